using Posthorn.Config;

namespace Posthorn.Daemon.Tools;

/// <summary>postconf(1) for master.cf: -M (entries), -F (fields), -P (per-service <c>-o</c> parameters).</summary>
/// <remarks>Postfix postconf(1): a selector is <c>service[/type[/field-or-parameter]]</c> and <c>*</c> matches any
/// part; a selector that matches nothing gives "unmatched request". -F shows <c>service/type/field = value</c>
/// (the command field with its arguments), -P shows <c>service/type/parameter = value</c> sorted by parameter
/// name. Edits keep the rest of master.cf as it is (<see cref="MasterCfEditor"/>).</remarks>
public static partial class Postconf
{
    private static bool CheckMasterOptions(Mode mode, List<string> operands, out string? error)
    {
        error = null;
        Mode which = mode & (Mode.Master | Mode.Fields | Mode.Params);
        if (which is not (Mode.Master or Mode.Fields or Mode.Params) || (mode & (Mode.Defaults | Mode.NonDefault)) != 0)
            error = "specify one of -M, -F or -P";
        else if (mode.HasFlag(Mode.Comment) && which != Mode.Master)
            error = "-# works only with main.cf parameters or with -M";
        else if (mode.HasFlag(Mode.Remove) && which == Mode.Fields)
            error = "-X works only with main.cf parameters, -M or -P";
        else if ((mode.HasFlag(Mode.Remove) || mode.HasFlag(Mode.Comment)) && operands.Count == 0)
            error = $"{(which == Mode.Master ? "-M" : "-P")}{(mode.HasFlag(Mode.Remove) ? "X" : "#")} requires service_name/type{(which == Mode.Params ? "/parameter" : "")}";
        return error is null;
    }

    private static int RunMaster(ToolContext ctx, string configDir, Mode mode, List<string> operands)
    {
        string path = Path.Combine(configDir, "master.cf");
        if (!File.Exists(path))
            return Fatal(ctx, $"open {path}: No such file or directory");
        string text = File.ReadAllText(path);
        var master = MasterConfig.Parse(text, path);
        bool edit = mode.HasFlag(Mode.Edit) || operands.Any(o => o.Contains('='));
        if (mode.HasFlag(Mode.Remove) || mode.HasFlag(Mode.Comment) || edit)
            return EditMaster(ctx, path, text, mode, operands);
        bool fold = mode.HasFlag(Mode.Fold);
        var unmatched = new List<string>(operands);
        if (operands.Count == 0)
            operands = ["*"];
        foreach (var s in master.Services)
        {
            foreach (string sel in operands)
            {
                string[] p = sel.Split('/');
                if (!Match(p, 0, s.Name) || !Match(p, 1, s.Type))
                    continue;
                bool hit = true;
                if (mode.HasFlag(Mode.Master))
                    ctx.Out.Write(MasterCfEditor.Format(MasterCfEditor.ArgvOf(s), fold) + "\n");
                else if (mode.HasFlag(Mode.Fields))
                    ShowFields(ctx, s, p.Length > 2 ? p[2] : "*", fold, mode);
                else
                    hit = ShowParams(ctx, s, p.Length > 2 ? p[2] : "*", mode);
                if (hit)
                    unmatched.Remove(sel);
            }
        }
        foreach (string sel in unmatched)
            ctx.Err.WriteLine($"postconf: warning: unmatched request: \"{sel}\"");
        return 0;
    }

    private static bool Match(string[] parts, int i, string value) => i >= parts.Length || parts[i] == "*" || parts[i] == value;

    private static void ShowFields(ToolContext ctx, MasterService s, string field, bool fold, Mode mode)
    {
        var argv = MasterCfEditor.ArgvOf(s);
        for (int f = 0; f < MasterCfEditor.FieldNames.Count; f++)
        {
            if (field != "*" && field != MasterCfEditor.FieldNames[f])
                continue;
            string prefix = mode.HasFlag(Mode.HideName) ? "" : $"{s.Name}/{s.Type}/{MasterCfEditor.FieldNames[f]} = ";
            string line = f == 7 ? MasterCfEditor.FormatCommandField(prefix, argv, fold) : prefix + argv[f];
            ctx.Out.Write(line + "\n");
        }
    }

    private static bool ShowParams(ToolContext ctx, MasterService s, string param, Mode mode)
    {
        bool any = false;
        foreach (var (name, value) in s.Overrides.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (param != "*" && param != name)
                continue;
            any = true;
            string line = mode.HasFlag(Mode.HideName) ? value : $"{s.Name}/{s.Type}/{name} = {value}";
            ctx.Out.Write(MasterCfEditor.FoldLine(line, mode.HasFlag(Mode.Fold)) + "\n");
        }
        return any || param == "*";
    }

    private static int EditMaster(ToolContext ctx, string path, string text, Mode mode, List<string> operands)
    {
        string edited = text;
        HashSet<string> matched;
        if (mode.HasFlag(Mode.Master) && (mode.HasFlag(Mode.Remove) || mode.HasFlag(Mode.Comment)))
        {
            var wanted = new HashSet<string>(operands, StringComparer.Ordinal);
            if (operands.FirstOrDefault(o => o.Split('/').Length != 2) is string bad)
                return Fatal(ctx, $"-M{(mode.HasFlag(Mode.Remove) ? "X" : "#")} requires service_name/type: \"{bad}\"");
            edited = mode.HasFlag(Mode.Remove)
                ? MasterCfEditor.Remove(text, path, (n, t) => wanted.Contains(n + "/" + t), out matched)
                : MasterCfEditor.CommentOut(text, path, (n, t) => wanted.Contains(n + "/" + t), out matched);
            Unmatched(ctx, operands.Where(o => !matched.Contains(o)));
        }
        else if (mode.HasFlag(Mode.Master))
        {
            var entries = new List<List<string>>();
            foreach (string op in operands)
            {
                int eq = op.IndexOf('=');
                string key = eq < 0 ? op : op[..eq].Trim();
                if (eq < 0 || key.Split('/').Length != 2)
                    return Fatal(ctx, $"-M option requires service_name/type=value: \"{op}\"");
                var argv = MasterCfEditor.ParseEntry(op[(eq + 1)..]);
                if (argv[0] + "/" + argv[1] != key)
                    return Fatal(ctx, $"-M option: service name/type mismatch: \"{key}\" vs \"{argv[0]}/{argv[1]}\"");
                entries.Add(argv);
            }
            edited = MasterCfEditor.SetEntries(text, path, entries);
        }
        else
        {
            foreach (string op in operands)
            {
                int eq = op.IndexOf('=');
                bool remove = mode.HasFlag(Mode.Remove);
                string key = eq < 0 ? op : op[..eq].Trim();
                string[] p = key.Split('/');
                string what = mode.HasFlag(Mode.Fields) ? "field" : "parameter";
                if (p.Length != 3 || p.Any(x => x.Length == 0 || x == "*") || (eq < 0) != remove)
                    return Fatal(ctx, $"-{(mode.HasFlag(Mode.Fields) ? "F" : "P")}{(remove ? "X" : "")} option requires service_name/type/{what}{(remove ? "" : "=value")}: \"{op}\"");
                string value = eq < 0 ? "" : op[(eq + 1)..].Trim();
                Action<List<string>> change;
                if (mode.HasFlag(Mode.Fields))
                {
                    int field = MasterCfEditor.FieldNames.ToList().IndexOf(p[2]);
                    if (field < 0)
                        return Fatal(ctx, $"invalid field name: \"{p[2]}\"");
                    if (value.Length == 0)
                        return Fatal(ctx, $"empty value for field \"{p[2]}\"");
                    change = argv => MasterCfEditor.SetField(argv, field, value);
                }
                else
                    change = argv => MasterCfEditor.SetParameter(argv, p[2], remove ? null : value);
                edited = MasterCfEditor.Edit(edited, path, (n, t) => n == p[0] && t == p[1], change, out matched);
                if (matched.Count == 0)
                    Unmatched(ctx, [op]);
            }
        }
        // The result must still be a valid master.cf.
        MasterConfig.Parse(edited, path);
        if (edited != text)
            MainCfEditor.WriteAtomically(path, edited);
        return 0;
    }

    private static void Unmatched(ToolContext ctx, IEnumerable<string> requests)
    {
        foreach (string r in requests)
            ctx.Err.WriteLine($"postconf: warning: unmatched request: \"{r}\"");
    }

    /// <summary>One master.cf entry on one line, as <c>postconf -M</c> prints it.</summary>
    internal static string FormatService(MasterService s) => MasterCfEditor.Format(MasterCfEditor.ArgvOf(s), fold: false);
}
