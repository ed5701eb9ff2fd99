using System.Text;

namespace Posthorn.Config;

/// <summary>Edits master.cf in place the way <c>postconf -M</c>, <c>-MX</c>, <c>-M#</c>, <c>-F</c>, <c>-P</c> and
/// <c>-PX</c> do (Postfix postconf(1) "Managing master.cf service entries / fields / parameters").</summary>
/// <remarks>An entry is named <c>service/type</c>. Comments, blank lines and untouched entries stay as they are.
/// A changed entry replaces its whole logical line where it stands and is written folded, as postconf writes it
/// (<see cref="Format"/>); a new entry is appended at the end; a commented-out entry gets '#' before each of its
/// physical lines. Entries are handled as an argument vector: the eight fields, then the command arguments with
/// each <c>-o</c> and its <c>name=value</c> as two elements.</remarks>
public static class MasterCfEditor
{
    /// <summary>Postfix postconf(1) field names, in column order.</summary>
    public static IReadOnlyList<string> FieldNames { get; } =
        ["service", "type", "private", "unprivileged", "chroot", "wakeup", "process_limit", "command"];

    // Postfix postconf: long lines are folded before 80 columns, continuation lines indented by 4.
    private const int LineLimit = 80;
    private const int IndentLength = 4;
    private static readonly int[] ColumnGoal = [0, 11, 17, 25, 33, 41, 49, 57];

    private sealed record Item(string Name, string Type, List<string> Argv, int First, int Last);

    /// <summary>The argument vector of an entry: the eight fields, then the arguments with <c>-o</c> pairs as two elements.</summary>
    public static List<string> ArgvOf(MasterService s) =>
        [s.Name, s.Type, s.Private, s.Unprivileged, s.Chroot, s.Wakeup, s.MaxProcesses, s.Command, .. s.DisplayArguments];

    /// <summary>Parses one entry written as in master.cf (<c>postconf -M name/type='…'</c>).</summary>
    /// <exception cref="ConfigException">Fewer than eight fields, a bad type or a bad <c>-o</c>.</exception>
    public static List<string> ParseEntry(string text) =>
        MasterConfig.Parse(text.Replace('\n', ' '), "-M argument") is { Services.Count: 1 } m
            ? ArgvOf(m.Services[0])
            : throw new ConfigException("-M argument", 0, $"bad master.cf entry: \"{text}\"");

    /// <summary>One entry as postconf prints it: the eight fields at their columns, then the arguments; with
    /// <paramref name="fold"/> each <c>-o name=value</c> goes on a line of its own and long lines are folded
    /// (Postfix postconf_master.c print rules). Arguments with white space are shown in <c>{ }</c>.</summary>
    public static string Format(IReadOnlyList<string> argv, bool fold)
    {
        var sb = new StringBuilder();
        int len = 0;
        for (int f = 0; f < 8 && f < argv.Count; f++)
        {
            if (len > 0)
            {
                do
                {
                    sb.Append(' ');
                    len++;
                }
                while (len < ColumnGoal[f]);
            }
            sb.Append(argv[f]);
            len += argv[f].Length;
        }
        AppendArguments(sb, argv, len, fold);
        return sb.ToString();
    }

    /// <summary>The command field as <c>postconf -F</c> shows it: <paramref name="prefix"/> (<c>name/type/command = </c>),
    /// the command, then its arguments under the same folding rules as <see cref="Format"/>.</summary>
    public static string FormatCommandField(string prefix, IReadOnlyList<string> argv, bool fold)
    {
        var sb = new StringBuilder(prefix).Append(argv[7]);
        AppendArguments(sb, argv, sb.Length, fold);
        return sb.ToString();
    }

    private static void AppendArguments(StringBuilder sb, IReadOnlyList<string> argv, int len, bool fold)
    {
        bool inOptions = true;
        for (int i = 8; i < argv.Count; i++)
        {
            string arg = Quote(argv[i]);
            string? value = null;
            int width = arg.Length;
            if (inOptions)
            {
                if (!arg.StartsWith('-') || arg == "--")
                    inOptions = false;
                else if (arg == "-o" && i + 1 < argv.Count)
                {
                    // An option with a value starts a line of its own and keeps its value with it.
                    len = LineLimit;
                    value = Quote(argv[i + 1]);
                    width += value.Length + 1;
                }
            }
            if (len > IndentLength)
            {
                if (!fold || len + 1 + width < LineLimit)
                {
                    sb.Append(' ');
                    len++;
                }
                else
                {
                    sb.Append('\n').Append(' ', IndentLength);
                    len = IndentLength;
                }
            }
            sb.Append(arg);
            len += arg.Length;
            if (value is not null)
            {
                sb.Append(' ').Append(value);
                i++;
                len = LineLimit;
            }
        }
    }

    /// <summary>Words joined by single spaces; with <paramref name="fold"/> a word that would reach column 80
    /// starts a new line indented by 4 (Postfix postconf_print.c, for <c>postconf -f</c>).</summary>
    public static string FoldLine(string text, bool fold)
    {
        var sb = new StringBuilder();
        int len = 0;
        foreach (string word in text.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (len > 0)
            {
                if (!fold || len + word.Length < LineLimit)
                {
                    sb.Append(' ');
                    len++;
                }
                else
                {
                    sb.Append('\n').Append(' ', IndentLength);
                    len = IndentLength;
                }
            }
            sb.Append(word);
            len += word.Length;
        }
        return sb.ToString();
    }

    private static string Quote(string arg) => arg.AsSpan().IndexOfAny(' ', '\t') >= 0 ? "{ " + arg + " }" : arg;

    /// <summary>Adds or replaces entries (<c>postconf -M name/type='…'</c>).</summary>
    public static string SetEntries(string text, string fileName, IReadOnlyList<List<string>> entries)
    {
        var byKey = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var e in entries)
            byKey[e[0] + "/" + e[1]] = e;
        var done = new HashSet<string>(StringComparer.Ordinal);
        var output = Rewrite(text, fileName, it => byKey.ContainsKey(it.Name + "/" + it.Type), (it, _, sink) =>
        {
            if (done.Add(it.Name + "/" + it.Type))
                sink.Add(Format(byKey[it.Name + "/" + it.Type], fold: true));
        }, out _);
        foreach (var (key, argv) in byKey)
        {
            if (!done.Contains(key))
                output.Add(Format(argv, fold: true));
        }
        return Join(output);
    }

    /// <summary>Removes entries (<c>postconf -MX</c>); <paramref name="matched"/> gets the service/type names found.</summary>
    public static string Remove(string text, string fileName, Func<string, string, bool> selected, out HashSet<string> matched) =>
        Join(Rewrite(text, fileName, it => selected(it.Name, it.Type), (_, _, _) => { }, out matched));

    /// <summary>Comments out entries, '#' before each physical line (<c>postconf -M#</c>).</summary>
    public static string CommentOut(string text, string fileName, Func<string, string, bool> selected, out HashSet<string> matched) =>
        Join(Rewrite(text, fileName, it => selected(it.Name, it.Type), (_, lines, sink) => sink.AddRange(lines.Select(l => "#" + l)), out matched));

    /// <summary>Applies <paramref name="edit"/> to the argument vector of each selected entry and writes it back folded
    /// (<c>postconf -F</c>, <c>-P</c>, <c>-PX</c>).</summary>
    public static string Edit(string text, string fileName, Func<string, string, bool> selected, Action<List<string>> edit, out HashSet<string> matched) =>
        Join(Rewrite(text, fileName, it => selected(it.Name, it.Type), (it, _, sink) =>
        {
            edit(it.Argv);
            sink.Add(Format(it.Argv, fold: true));
        }, out matched));

    /// <summary>Sets field <paramref name="field"/> (an index in <see cref="FieldNames"/>); the command field
    /// takes the command and all its arguments, split on white space (Postfix pcf_edit_master_field).</summary>
    public static void SetField(List<string> argv, int field, string value)
    {
        if (field == 7)
        {
            argv.RemoveRange(7, argv.Count - 7);
            argv.AddRange(ParseEntry("x unix - - - - - " + value).Skip(7));
        }
        else
            argv[field] = value.Trim();
    }

    /// <summary>Sets (<paramref name="value"/> not null) or removes <c>-o name=value</c> among the leading options
    /// of the command; a new one is added after the last option (Postfix pcf_edit_master_param).</summary>
    public static void SetParameter(List<string> argv, string name, string? value)
    {
        bool found = false;
        int i = 8;
        while (i < argv.Count && argv[i].StartsWith('-') && argv[i] != "--")
        {
            if (argv[i] == "-o" && i + 1 < argv.Count)
            {
                if (argv[i + 1].StartsWith(name + "=", StringComparison.Ordinal))
                {
                    found = true;
                    if (value is null)
                    {
                        argv.RemoveRange(i, 2);
                        continue;
                    }
                    argv[i + 1] = $"{name}={value}";
                }
                i += 2;
            }
            else
                i++;
        }
        if (value is not null && !found)
            argv.InsertRange(i, ["-o", $"{name}={value}"]);
    }

    private static List<string> Rewrite(string text, string fileName, Func<Item, bool> selected,
        Action<Item, string[], List<string>> replace, out HashSet<string> matched)
    {
        string[] lines = LogicalLines.Physical(text);
        var byFirst = new Dictionary<int, Item>();
        matched = new HashSet<string>(StringComparer.Ordinal);
        foreach (var logical in LogicalLines.Split(lines, fileName))
        {
            var parsed = MasterConfig.Parse(logical.Text, fileName);
            if (parsed.Services.Count != 1)
                continue;
            var s = parsed.Services[0];
            var item = new Item(s.Name, s.Type, ArgvOf(s), logical.First, logical.Last);
            if (selected(item))
            {
                byFirst[logical.First] = item;
                matched.Add(s.Name + "/" + s.Type);
            }
        }
        var output = new List<string>(lines.Length + 4);
        for (int i = 0; i < lines.Length; i++)
        {
            if (byFirst.TryGetValue(i, out var it))
            {
                replace(it, lines[it.First..(it.Last + 1)], output);
                i = it.Last;
            }
            else
                output.Add(lines[i]);
        }
        return output;
    }

    private static string Join(List<string> lines) => lines.Count == 0 ? "" : string.Join('\n', lines) + "\n";
}
