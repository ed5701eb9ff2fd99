using System.Text;
using Posthorn.Config;

namespace Posthorn.Daemon.Tools;

/// <summary>postconf(1): show and edit main.cf parameters, show master.cf services.</summary>
/// <remarks>
/// Supported: <c>[-dfhHnx] [-c dir] [name …]</c>, <c>[-e] name=value …</c>, <c>-X name …</c>, <c>-# name …</c>,
/// and for master.cf <c>-M [-f] [service[/type] …]</c>, <c>-M name/type='entry' …</c>, <c>-MX</c>, <c>-M#</c>,
/// <c>-F [-f] [service[/type[/field]] …]</c>, <c>-F name/type/field=value …</c>, <c>-P [-f] [service[/type[/parameter]] …]</c>,
/// <c>-P name/type/parameter=value …</c>, <c>-PX name/type/parameter …</c> (Postconf.Master.cs). Output is Postfix's: <c>name = value</c> with white space in the value
/// collapsed to single spaces, <c>name =</c> for an empty value; warnings as <c>postconf: warning: …</c>,
/// fatal errors as <c>postconf: fatal: …</c> with exit status 1.
/// -f folds long lines before column 80 with a 4-space indent, as Postfix does.
/// -o name=value overrides a main.cf setting for this run; -p (main.cf parameters) is the default; -C class,…
/// lists only the builtin, service or user parameters (or all).
/// -T compile-version|run-version|public-key-algorithms: Postconf.Tls.cs.
/// Not supported: -a, -A, -b, -t, -l, -m.
/// Security: -e, -X, -# and the master.cf edits rewrite the file; they need write access to the config directory.
/// </remarks>
public static partial class Postconf
{
    private const string Usage = "usage: postconf [-dhHnpx] [-c config_dir] [-C class] [-o name=value] [parameter ...]";

    [Flags]
    private enum Mode { None = 0, Defaults = 1, HideName = 2, HideValue = 4, NonDefault = 8, Expand = 16, Edit = 32, Remove = 64, Comment = 128, Master = 256, Fold = 512, Fields = 1024, Params = 2048 }

    /// <summary>Runs postconf with Postfix's arguments; returns the exit status.</summary>
    public static int Run(string[] args, ToolContext ctx) => Run(args, ctx, null);

    /// <summary>As <see cref="Run(string[], ToolContext)"/>, with the machine facts given (tests).</summary>
    internal static int Run(string[] args, ToolContext ctx, HostInfo? host)
    {
        try
        {
            if (RunTls(args, ctx) is { } tls)
                return tls;
            var overrides = new List<KeyValuePair<string, string>>();
            var classes = new HashSet<string>(StringComparer.Ordinal);
            if (!TryParseOptions(args, out var mode, out string? dir, out var operands, out string? error, overrides, classes))
                return Fatal(ctx, error!);
            string configDir = ctx.ConfigDirectory(dir);
            if ((mode & (Mode.Master | Mode.Fields | Mode.Params)) != 0)
                return RunMaster(ctx, configDir, mode, operands);
            if (mode.HasFlag(Mode.Edit) || mode.HasFlag(Mode.Remove) || mode.HasFlag(Mode.Comment))
                return EditMain(ctx, configDir, mode, operands);
            return Show(ctx, configDir, mode, operands, host, overrides, classes);
        }
        catch (ConfigException e)
        {
            return Fatal(ctx, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fatal(ctx, e.Message);
        }
    }

    private static int Fatal(ToolContext ctx, string message)
    {
        ctx.Err.WriteLine($"postconf: fatal: {Printable(message)}");
        return 1;
    }

    private static bool TryParseOptions(string[] args, out Mode mode, out string? dir, out List<string> operands, out string? error,
        List<KeyValuePair<string, string>> overrides, HashSet<string> classes)
    {
        mode = Mode.None;
        dir = null;
        operands = [];
        error = null;
        int i = 0;
        for (; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                i++;
                break;
            }
            if (a.Length < 2 || a[0] != '-')
                break;
            for (int j = 1; j < a.Length; j++)
            {
                switch (a[j])
                {
                    case 'c' or 'o' or 'C':
                        char flag = a[j];
                        string value;
                        if (j + 1 < a.Length)
                            value = a[(j + 1)..];
                        else if (i + 1 < args.Length)
                            value = args[++i];
                        else
                        {
                            error = Usage;
                            return false;
                        }
                        j = a.Length;
                        if (flag == 'c')
                            dir = value;
                        else if (flag == 'o')
                        {
                            // Postfix postconf(1) -o name=value: "Override main.cf parameter settings."
                            int eq = value.IndexOf('=');
                            if (eq <= 0)
                            {
                                error = $"-o option requires name=value: \"{value}\"";
                                return false;
                            }
                            overrides.Add(new(value[..eq].Trim(), value[(eq + 1)..].Trim()));
                        }
                        else
                        {
                            // Postfix postconf(1) -C class,...: builtin, service, user or all.
                            foreach (string c in value.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                            {
                                if (c is not ("builtin" or "service" or "user" or "all"))
                                {
                                    error = $"unknown -C option value \"{c}\" in \"{value}\"";
                                    return false;
                                }
                                classes.Add(c);
                            }
                        }
                        break;
                    case 'p': break; // Show main.cf parameters: the default.
                    case 'd': mode |= Mode.Defaults; break;
                    case 'e': mode |= Mode.Edit; break;
                    case 'h': mode |= Mode.HideName; break;
                    case 'H': mode |= Mode.HideValue; break;
                    case 'n': mode |= Mode.NonDefault; break;
                    case 'x': mode |= Mode.Expand; break;
                    case 'X': mode |= Mode.Remove; break;
                    case '#': mode |= Mode.Comment; break;
                    case 'M': mode |= Mode.Master; break;
                    case 'F': mode |= Mode.Fields; break;
                    case 'P': mode |= Mode.Params; break;
                    case 'f': mode |= Mode.Fold; break;
                    case 'v': break; // Verbose logging: nothing more to say.
                    default:
                        error = Usage;
                        return false;
                }
            }
        }
        operands.AddRange(args[i..]);
        if ((mode & (Mode.Master | Mode.Fields | Mode.Params)) != 0)
            return CheckMasterOptions(mode, operands, out error);
        // Postfix 2.8: "postconf name=value" edits main.cf without -e.
        if ((mode & (Mode.Remove | Mode.Comment | Mode.Master)) == 0 && operands.Count > 0 && operands[0].Contains('='))
            mode |= Mode.Edit;
        Mode chosen = mode;
        int editModes = new[] { Mode.Edit, Mode.Remove, Mode.Comment, Mode.Master }.Count(m => chosen.HasFlag(m));
        if (editModes > 1 || (mode.HasFlag(Mode.Defaults) && mode.HasFlag(Mode.NonDefault)))
        {
            error = "specify one of -d, -e, -n, -M, -X or -#";
            return false;
        }
        if ((mode.HasFlag(Mode.Remove) || mode.HasFlag(Mode.Comment)) && operands.Count == 0)
        {
            error = $"{(mode.HasFlag(Mode.Remove) ? "-X" : "-#")} option requires one or more parameter names";
            return false;
        }
        return true;
    }

    private static int Show(ToolContext ctx, string configDir, Mode mode, List<string> names, HostInfo? host,
        List<KeyValuePair<string, string>> overrides, HashSet<string> classes)
    {
        bool defaults = mode.HasFlag(Mode.Defaults);
        var cfg = defaults ? ConfigSnapshot.Defaults(configDir, host) : ConfigSnapshot.Load(configDir, host, overrides);
        bool InClass(string name) => classes.Count == 0 || classes.Contains("all") || classes.Contains(cfg.ParameterClass(name));
        // Postfix postconf reads master.cf for its -o parameters in every main.cf display mode.
        if (!File.Exists(Path.Combine(configDir, "master.cf")))
            Warn(ctx, $"open {Path.Combine(configDir, "master.cf")}: No such file or directory");
        // Postfix mail_conf.c: an explicit configuration directory (-c, MAIL_CONFIG) is set as config_directory
        // before main.cf is read, so "postconf -n" lists it and a main.cf setting overrides it.
        bool explicitDir = !defaults && configDir != ToolContext.DefaultConfigDirectory;
        if (explicitDir && cfg.IsSet("config_directory"))
            Warn(ctx, $"{Path.Combine(configDir, "main.cf")}, line {cfg.LineOf("config_directory")}: overriding earlier entry: config_directory={configDir}");
        var unused = new List<string>();
        if (!defaults)
        {
            // Postfix reports unused parameters after the output, everything else before it.
            foreach (string w in cfg.Warnings)
            {
                if (w.Contains(": unused parameter: ", StringComparison.Ordinal))
                    unused.Add(w);
                else
                    Warn(ctx, w);
            }
        }
        bool expand = mode.HasFlag(Mode.Expand);
        bool IsSet(string name) => cfg.IsSet(name) || (explicitDir && name == "config_directory");
        if (names.Count == 0)
        {
            IEnumerable<string> all = mode.HasFlag(Mode.NonDefault)
                ? cfg.SetNames.Where(cfg.IsKnownOrUsed).Concat(explicitDir ? ["config_directory"] : []).Distinct().Order(StringComparer.Ordinal)
                : ParameterRegistry.All.Keys.Concat(defaults ? [] : cfg.SetNames.Where(cfg.IsKnownOrUsed))
                    .Distinct().Order(StringComparer.Ordinal);
            foreach (string name in all.Where(InClass))
                Print(ctx, mode, name, Value(cfg, name, defaults, expand)!);
        }
        else
        {
            foreach (string name in names)
            {
                if (mode.HasFlag(Mode.NonDefault) && !IsSet(name))
                    continue;
                string? value = Value(cfg, name, defaults, expand);
                if (value is null)
                    Warn(ctx, $"{name}: unknown parameter");
                else
                    Print(ctx, mode, name, value);
            }
        }
        foreach (string w in unused)
            Warn(ctx, w);
        return 0;
    }

    /// <summary>"postconf: warning: …" with non-printable characters shown as '?' (Postfix msg(3), printable(3)).</summary>
    private static void Warn(ToolContext ctx, string text) => ctx.Err.WriteLine("postconf: warning: " + Printable(text));

    /// <summary>Postfix printable(3): control characters, and bytes that were not valid UTF-8, become '?'.</summary>
    internal static string Printable(string text) => string.Create(text.Length, text, (span, t) =>
    {
        for (int i = 0; i < t.Length; i++)
            span[i] = char.IsControl(t[i]) || t[i] == '\uFFFD' ? '?' : t[i];
    });

    private static string? Value(ConfigSnapshot cfg, string name, bool defaults, bool expand)
    {
        if (defaults)
            return cfg.GetDefault(name, expand);
        // Postfix postconf: a main.cf setting that nothing uses is an "unknown parameter" here too.
        if (!ParameterRegistry.All.ContainsKey(name) && !(cfg.IsSet(name) && cfg.IsKnownOrUsed(name)))
            return null;
        return expand ? cfg.Get(name) : cfg.GetRaw(name);
    }

    /// <summary>Postfix pcf_print_line: the words of "name = value" joined by single spaces.</summary>
    private static void Print(ToolContext ctx, Mode mode, string name, string value)
    {
        string text = mode.HasFlag(Mode.HideValue) ? name
            : mode.HasFlag(Mode.HideName) ? value
            : $"{name} = {value}";
        ctx.Out.Write(MasterCfEditor.FoldLine(text, mode.HasFlag(Mode.Fold)));
        ctx.Out.Write('\n');
    }

    private static int EditMain(ToolContext ctx, string configDir, Mode mode, List<string> operands)
    {
        string path = Path.Combine(configDir, "main.cf");
        if (!Directory.Exists(configDir))
            return Fatal(ctx, $"open {path}: No such file or directory");
        string text = File.Exists(path) ? File.ReadAllText(path) : "";
        string edited;
        if (mode.HasFlag(Mode.Edit))
        {
            var settings = new List<KeyValuePair<string, string>>();
            foreach (string op in operands)
            {
                int eq = op.IndexOf('=');
                string name = eq < 0 ? "" : op[..eq].Trim();
                if (eq < 0)
                    return Fatal(ctx, $"missing '=' after attribute name: \"{op}\"");
                if (name.Length == 0)
                    return Fatal(ctx, $"missing attribute name: \"{op}\"");
                // A value on the command line is one logical line: newlines would start a new setting.
                string value = op[(eq + 1)..].Trim().Replace('\n', ' ').Replace('\r', ' ');
                settings.Add(new(name, value));
            }
            edited = MainCfEditor.Set(text, path, settings);
        }
        else if (mode.HasFlag(Mode.Remove))
            edited = MainCfEditor.Remove(text, path, operands);
        else
            edited = MainCfEditor.CommentOut(text, path, operands);
        if (edited != text)
            MainCfEditor.WriteAtomically(path, edited);
        return 0;
    }
}
