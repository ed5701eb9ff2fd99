using System.Text;
using System.Text.RegularExpressions;

namespace Posthorn.Config.Tables;

/// <summary><c>regexp:FILE</c> and <c>pcre:FILE</c>: regular expressions tried in order, first match wins
/// (Postfix regexp_table(5), pcre_table(5)).</summary>
/// <remarks>
/// Each logical line is <c>/pattern/flags result</c>, <c>!/pattern/flags result</c> (matches when the pattern
/// does not), <c>if /pattern/flags</c> / <c>if !/pattern/flags</c> … <c>endif</c>. The delimiter is the first
/// character of the pattern (usually '/'); a backslash before it makes it part of the pattern. Matching is
/// case-insensitive by default; flag <c>i</c> toggles that; <c>m</c> toggles multi-line mode; pcre also takes
/// <c>s</c> (dot matches newline), <c>x</c> (extended), <c>A</c> (anchored) and <c>X</c> (ignored).
/// In the result, <c>$1</c> … <c>$9</c> and <c>${n}</c> are replaced with the matched subexpressions (empty when
/// one did not take part), <c>$$</c> with '$'. A broken line is skipped with the warning
/// "regexp map FILE, line N: …: skipping this rule".
/// DEVIATION: both types use .NET regular expressions (close to PCRE; POSIX bracket classes such as
/// <c>[[:alpha:]]</c> are translated for regexp:). Every match runs under a time limit; running out of it is a
/// temporary lookup failure.
/// Security: patterns come from the administrator, keys from mail clients; the time limit bounds backtracking.
/// </remarks>
public sealed class RegexpTable : ILookupTable
{
    private readonly ConditionalRules<Regex> _rules;

    private RegexpTable(string name, ConditionalRules<Regex> rules)
    {
        Name = name;
        _rules = rules;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Reads and parses <c>type:path</c> (<paramref name="type"/> is regexp or pcre).</summary>
    /// <exception cref="LookupTableException">The file cannot be read.</exception>
    public static RegexpTable Open(string type, string path, LookupTableOptions options) =>
        Parse(type, LookupTables.ReadSource(type, path), path, options.Warn, options.RegexTimeout);

    /// <summary>Parses table text; <paramref name="path"/> names it in warnings.</summary>
    public static RegexpTable Parse(string type, string text, string path, Action<string>? warn, TimeSpan timeout)
    {
        var rules = new ConditionalRules<Regex>();
        bool pcre = type == "pcre";
        foreach (var logical in LogicalLines.Split(LogicalLines.Physical(text), path, warn))
        {
            string line = logical.Text;
            // Postfix dict_regexp: a pattern that does not compile is reported with regerror(3)'s text alone.
            void Skip(string why) => warn?.Invoke(why.StartsWith(CompileError, StringComparison.Ordinal)
                ? $"{type} map {path}, line {logical.Line}: {why[CompileError.Length..]}"
                : $"{type} map {path}, line {logical.Line}: {why}: skipping this rule");
            var (keyword, rest) = LookupTables.SplitWord(line);
            if (keyword.Equals("endif", StringComparison.OrdinalIgnoreCase) && rest.Length == 0)
            {
                if (!rules.EndIf())
                    Skip("ignoring ENDIF without matching IF");
                continue;
            }
            bool isIf = keyword.Equals("if", StringComparison.OrdinalIgnoreCase) && rest.Length > 0 && rest[0] is '/' or '!';
            string spec = isIf ? rest : line;
            if (!TryParsePattern(spec, pcre, timeout, out var regex, out bool negated, out string result, out string? error))
            {
                Skip(error!);
                continue;
            }
            if (isIf)
            {
                if (result.Length > 0)
                    Skip($"garbage after IF pattern: \"{result}\"");
                else
                    rules.BeginIf(regex!, negated, logical.Line);
                continue;
            }
            if (!CheckSubstitution(result, negated, regex!, out error))
            {
                Skip(error!);
                continue;
            }
            if (result.Length == 0)
                warn?.Invoke($"{type} map {path}, line {logical.Line}: no replacement text: using empty string");
            rules.Add(regex!, negated, result, logical.Line);
        }
        foreach (int line in rules.Unclosed())
            warn?.Invoke($"{type} map {path}, line {line}: IF has no matching ENDIF");
        return new RegexpTable($"{type}:{path}", rules);
    }

    /// <inheritdoc/>
    /// <exception cref="LookupTableException">A pattern ran out of its time limit.</exception>
    public bool TryLookup(string key, out string value)
    {
        value = "";
        Match? last = null;
        ConditionalRules<Regex>.Rule? rule;
        try
        {
            rule = _rules.FindFirst(r => (last = r.Match(key)).Success);
        }
        catch (RegexMatchTimeoutException e)
        {
            throw new LookupTableException(Name, $"{Name}: pattern /{e.Pattern}/ took too long on key \"{key}\"");
        }
        if (rule is null)
            return false;
        value = rule.Negated ? rule.Result.Replace("$$", "$", StringComparison.Ordinal) : Substitute(rule.Result, last!);
        return true;
    }

    private static bool TryParsePattern(string spec, bool pcre, TimeSpan timeout, out Regex? regex, out bool negated,
        out string result, out string? error)
    {
        regex = null;
        result = "";
        negated = spec.StartsWith('!');
        int i = negated ? 1 : 0;
        if (i >= spec.Length || char.IsWhiteSpace(spec[i]) || char.IsLetterOrDigit(spec[i]) || spec[i] == '\\')
        {
            error = $"no regexp delimiter: \"{spec}\"";
            return false;
        }
        char delimiter = spec[i++];
        var pattern = new StringBuilder();
        for (; i < spec.Length && spec[i] != delimiter; i++)
        {
            if (spec[i] == '\\' && i + 1 < spec.Length && spec[i + 1] == delimiter)
                i++;
            pattern.Append(spec[i]);
        }
        if (i >= spec.Length)
        {
            error = $"unmatched '{delimiter}' in \"{spec}\"";
            return false;
        }
        i++;
        var options = RegexOptions.CultureInvariant | RegexOptions.IgnoreCase;
        bool anchored = false;
        for (; i < spec.Length && !char.IsWhiteSpace(spec[i]); i++)
        {
            switch (spec[i])
            {
                case 'i': options ^= RegexOptions.IgnoreCase; break;
                case 'm': options ^= RegexOptions.Multiline; break;
                case 'x': if (pcre) options ^= RegexOptions.IgnorePatternWhitespace; break;
                case 's' when pcre: options ^= RegexOptions.Singleline; break;
                case 'A' when pcre: anchored = true; break;
                case 'X' when pcre: break;
                default:
                    error = $"unknown regexp option \"{spec[i]}\"";
                    return false;
            }
        }
        result = spec[i..].Trim();
        string text = pcre ? pattern.ToString() : TranslatePosix(pattern.ToString());
        if (anchored)
            text = $@"\G(?:{text})";
        try
        {
            regex = new Regex(text, options, timeout);
        }
        catch (RegexParseException e)
        {
            error = CompileError + (pcre ? $"/{pattern}/: {e.Message}" : PosixMessage(e));
            return false;
        }
        error = null;
        return true;
    }

    /// <summary>Marks a compile error in <c>error</c>; removed before the message is shown.</summary>
    private const string CompileError = "\u0001";

    /// <summary>The glibc regerror(3) text Postfix prints for the common mistakes; .NET's own text otherwise.</summary>
    private static string PosixMessage(RegexParseException e) => e.Error switch
    {
        RegexParseError.InsufficientClosingParentheses => @"Unmatched ( or \(",
        RegexParseError.UnterminatedBracket => "Unmatched [, [^, [:, [., or [=",
        RegexParseError.ReversedCharacterRange => "Invalid range end",
        RegexParseError.QuantifierAfterNothing or RegexParseError.NestedQuantifiersNotParenthesized => "Invalid preceding regular expression",
        RegexParseError.ReversedQuantifierRange => @"Invalid content of \{\}",
        RegexParseError.UnescapedEndingBackslash => "Trailing backslash",
        _ => e.Message,
    };

    private static readonly (string Posix, string Net)[] PosixClasses =
    [
        ("[:alpha:]", "a-zA-Z"), ("[:digit:]", "0-9"), ("[:alnum:]", "a-zA-Z0-9"), ("[:upper:]", "A-Z"),
        ("[:lower:]", "a-z"), ("[:space:]", @" \t\r\n\f\v"), ("[:blank:]", @" \t"), ("[:xdigit:]", "0-9A-Fa-f"),
        ("[:punct:]", @"!-/:-@\[-`{-~"), ("[:cntrl:]", @"\x00-\x1f\x7f"), ("[:print:]", @"\x20-\x7e"), ("[:graph:]", @"\x21-\x7e"),
    ];

    private static string TranslatePosix(string pattern)
    {
        foreach (var (posix, net) in PosixClasses)
            pattern = pattern.Replace(posix, net, StringComparison.Ordinal);
        return pattern;
    }

    /// <summary>Postfix dict_regexp: "$number" in the result of a "!" rule, or beyond the pattern's groups, is an error.</summary>
    private static bool CheckSubstitution(string result, bool negated, Regex regex, out string? error)
    {
        int groups = regex.GetGroupNumbers().Length - 1;
        foreach (int n in References(result))
        {
            if (negated)
            {
                error = "$number found in negative match replacement text";
                return false;
            }
            if (n > groups)
            {
                error = $"out of range replacement index \"{n}\"";
                return false;
            }
        }
        error = null;
        return true;
    }

    private static IEnumerable<int> References(string result)
    {
        var found = new List<int>();
        Walk(result, n => { found.Add(n); return ""; });
        return found;
    }

    private static string Substitute(string result, Match m) =>
        Walk(result, n => m.Groups[n].Success ? m.Groups[n].Value : "");

    /// <summary>Replaces <c>$n</c> and <c>${n}</c> with <paramref name="group"/>(n) and <c>$$</c> with '$'.</summary>
    private static string Walk(string text, Func<int, string> group)
    {
        if (!text.Contains('$'))
            return text;
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c != '$' || i + 1 >= text.Length)
            {
                sb.Append(c);
                continue;
            }
            char n = text[i + 1];
            if (n == '$')
            {
                sb.Append('$');
                i++;
            }
            else if (char.IsAsciiDigit(n))
            {
                int end = i + 1;
                while (end < text.Length && char.IsAsciiDigit(text[end]))
                    end++;
                sb.Append(group(int.TryParse(text.AsSpan(i + 1, end - i - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int d) ? d : int.MaxValue));
                i = end - 1;
            }
            else if (n == '{' && text.IndexOf('}', i + 2) is int close and > 0
                && int.TryParse(text.AsSpan(i + 2, close - i - 2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int g))
            {
                sb.Append(group(g));
                i = close;
            }
            else
                sb.Append(c);
        }
        return sb.ToString();
    }
}
