using System.Text;

namespace Posthorn.Mail.Delivery;

/// <summary>One alias: <c>name: target, target, …</c>, from the line where its logical line starts.</summary>
public sealed record AliasEntry(string Name, IReadOnlyList<string> Targets, int Line);

/// <summary>aliases(5): the text form of the alias database, as postalias(1) reads it.</summary>
/// <remarks>
/// Postfix aliases(5): "name: value1, value2, …"; a line that starts with white space continues
/// the previous logical line; a line whose first non-blank character is <c>#</c> is a comment
/// (there are no trailing comments); empty lines are ignored. A value is an address, a
/// <c>/file/name</c>, a <c>|command</c> or <c>:include:/file/name</c>; double quotes protect
/// commas and spaces (<c>"|/usr/bin/filter -x"</c>). Names are kept as written here; the
/// compiled database folds them to lower case.
/// Errors are reported as postalias does, <c>file, line N: need name:value pair</c>, and the line
/// is skipped; parsing continues.
/// </remarks>
public sealed class AliasFile
{
    private AliasFile(IReadOnlyList<AliasEntry> entries, IReadOnlyList<string> errors)
    {
        Entries = entries;
        Errors = errors;
    }

    public IReadOnlyList<AliasEntry> Entries { get; }

    /// <summary>Problems found, each as <c>file, line N: text</c>.</summary>
    public IReadOnlyList<string> Errors { get; }

    public static AliasFile Parse(string text, string fileName)
    {
        var entries = new List<AliasEntry>();
        var errors = new List<string>();
        var logical = new StringBuilder();
        int logicalLine = 0;

        void Flush()
        {
            if (logicalLine == 0) return;
            if (TryParseEntry(logical.ToString(), logicalLine, out var entry, out var error)) entries.Add(entry);
            else errors.Add($"{fileName}, line {logicalLine}: {error}");
            logical.Clear();
            logicalLine = 0;
        }

        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            string line = raw.EndsWith('\r') ? raw[..^1] : raw;
            string trimmed = line.TrimStart(' ', '\t');
            if (trimmed.Length == 0 || trimmed[0] == '#') continue; // Postfix aliases(5): comments and empty lines
            if (line[0] is ' ' or '\t')
            {
                // Postfix aliases(5): "A line that starts with whitespace continues a logical line."
                if (logicalLine == 0) errors.Add($"{fileName}, line {lineNo}: logical line must not start with white space");
                else logical.Append(' ').Append(trimmed);
                continue;
            }
            Flush();
            logical.Append(line);
            logicalLine = lineNo;
        }
        Flush();
        return new AliasFile(entries, errors);
    }

    private static bool TryParseEntry(string text, int line, out AliasEntry entry, out string error)
    {
        entry = null!;
        error = "need name:value pair";
        int colon;
        string name;
        if (text.StartsWith('"'))
        {
            if (!TryReadQuoted(text, 0, out name, out int end)) return false;
            colon = text.IndexOf(':', end);
            if (colon < 0 || text.AsSpan(end, colon - end).Trim().Length != 0) return false;
        }
        else
        {
            colon = text.IndexOf(':');
            if (colon <= 0) return false;
            name = text[..colon].Trim();
        }
        if (name.Length == 0) return false;
        var targets = SplitTargets(text.AsSpan(colon + 1));
        if (targets.Count == 0) return false;
        // Postfix postalias: alias names are local parts; a name with a domain is refused.
        if (name.Contains('@'))
        {
            error = "name must be local";
            return false;
        }
        entry = new AliasEntry(name, targets, line);
        return true;
    }

    /// <summary>Splits an alias value (or an :include: file's text) at commas and line breaks
    /// outside double quotes; removes the quotes and any &lt;&gt; around an address.</summary>
    internal static List<string> SplitTargets(ReadOnlySpan<char> value)
    {
        var targets = new List<string>();
        var item = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (quoted && c == '\\' && i + 1 < value.Length) { item.Append(c).Append(value[++i]); continue; }
            if (c == '"') quoted = !quoted;
            if (!quoted && c is ',' or '\n' or '\r') { AddTarget(targets, item); continue; }
            item.Append(c);
        }
        AddTarget(targets, item);
        return targets;
    }

    private static void AddTarget(List<string> targets, StringBuilder item)
    {
        string t = item.ToString().Trim(' ', '\t');
        item.Clear();
        if (t.Length == 0) return;
        if (t[0] == '"' && TryReadQuoted(t, 0, out var inner, out int end))
            t = inner + t[end..].Trim(); // "local part"@domain keeps its domain
        else if (t.Length > 1 && t[0] == '<' && t[^1] == '>')
            t = t[1..^1].Trim();
        if (t.Length > 0) targets.Add(t);
    }

    /// <summary>Reads <c>"…"</c> starting at <paramref name="start"/>; backslash quotes the next character.</summary>
    private static bool TryReadQuoted(string s, int start, out string inner, out int end)
    {
        var sb = new StringBuilder();
        for (int i = start + 1; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length) { sb.Append(s[++i]); continue; }
            if (s[i] == '"')
            {
                inner = sb.ToString();
                end = i + 1;
                return true;
            }
            sb.Append(s[i]);
        }
        inner = "";
        end = s.Length;
        return false;
    }
}
