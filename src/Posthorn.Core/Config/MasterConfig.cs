namespace Posthorn.Config;

/// <summary>master.cf: the service table that the daemon runs (Postfix master(5)).</summary>
/// <remarks>
/// Each logical line is <c>service type private unpriv chroot wakeup maxproc command [args…]</c>; comments,
/// empty lines and continuation lines follow the main.cf rules. Arguments may be grouped with
/// <c>{ … }</c> to include white space (Postfix 3.0). <c>-o name=value</c>, <c>-o { name = value }</c> and
/// <c>-o name={ value }</c> override a main.cf parameter for that service.
/// </remarks>
public sealed class MasterConfig
{
    private static readonly string[] Types = ["inet", "unix", "fifo", "pass", "unix-dgram"];

    private MasterConfig(IReadOnlyList<MasterService> services) => Services = services;

    /// <summary>The services in file order.</summary>
    public IReadOnlyList<MasterService> Services { get; }

    internal static MasterConfig Empty { get; } = new([]);

    /// <summary>Parses master.cf text; <paramref name="fileName"/> names the file in errors.</summary>
    /// <exception cref="ConfigException">Too few fields, an unknown service type, a bad <c>-o</c> argument.</exception>
    public static MasterConfig Parse(string text, string fileName)
    {
        var services = new List<MasterService>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var logical in LogicalLines.Split(LogicalLines.Physical(text), fileName))
        {
            var fields = Tokenize(logical.Text, fileName, logical.Line);
            if (fields.Count < 8)
                throw new ConfigException(fileName, logical.Line, $"bad field count: \"{logical.Text}\"");
            string name = fields[0], type = fields[1];
            if (!Types.Contains(type))
                throw new ConfigException(fileName, logical.Line, $"bad transport type: {type}");
            // Postfix master_ent.c: a service name and type may appear only once.
            if (!seen.Add(name + "/" + type))
                throw new ConfigException(fileName, logical.Line, $"duplicate service name: {name}/{type}");
            for (int f = 2; f <= 4; f++)
            {
                if (fields[f] is not ("y" or "n" or "-"))
                    throw new ConfigException(fileName, logical.Line, $"bad {FieldNames[f]} field value: {fields[f]}");
            }
            var args = new List<string>();
            var display = new List<string>();
            var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 8; i < fields.Count; i++)
            {
                if (fields[i] == "-o" && i + 1 < fields.Count)
                {
                    string arg = Unbrace(fields[++i]);
                    if (!MainCf.TrySplitNameValue(arg, out string k, out string v, out string? err))
                        throw new ConfigException(fileName, logical.Line, $"{err}: \"{arg}\"");
                    v = Unbrace(v);
                    overrides[k] = v;
                    display.Add("-o");
                    display.Add($"{k}={v}");
                }
                else
                {
                    string a = Unbrace(fields[i]);
                    args.Add(a);
                    display.Add(a);
                }
            }
            services.Add(new MasterService(name, type, fields[2], fields[3], fields[4], fields[5], fields[6], fields[7],
                args, overrides, logical.Line) { DisplayArguments = display });
        }
        return new MasterConfig(services);
    }

    private static readonly string[] FieldNames = ["service", "type", "private", "unpriv", "chroot", "wakeup", "maxproc", "command"];

    /// <summary>Splits on white space, keeping a balanced <c>{ … }</c> group as one token.</summary>
    private static List<string> Tokenize(string text, string fileName, int line)
    {
        var tokens = new List<string>();
        int i = 0;
        while (i < text.Length)
        {
            if (text[i] is ' ' or '\t')
            {
                i++;
                continue;
            }
            int start = i;
            if (text[i] == '{')
            {
                int close = Expander.MatchingClose(text, i);
                if (close < 0)
                    throw new ConfigException(fileName, line, $"missing '}}' in \"{text[start..]}\"");
                i = close + 1;
            }
            else
            {
                while (i < text.Length && text[i] is not (' ' or '\t'))
                {
                    // A group inside a token (name={ value with spaces }) stays part of it.
                    if (text[i] == '{' && Expander.MatchingClose(text, i) is int c and > 0)
                        i = c;
                    i++;
                }
            }
            tokens.Add(text[start..i]);
        }
        return tokens;
    }

    /// <summary>Removes one <c>{ }</c> pair around a value and the white space inside it.</summary>
    private static string Unbrace(string s)
    {
        string t = s.Trim();
        return t.Length >= 2 && t[0] == '{' && t[^1] == '}' && Expander.MatchingClose(t, 0) == t.Length - 1
            ? t[1..^1].Trim()
            : s;
    }
}
