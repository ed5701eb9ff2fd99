using System.Globalization;

namespace Posthorn.Config;

public sealed partial class ConfigSnapshot
{
    /// <summary>A yes/no parameter. Postfix accepts <c>yes</c> and <c>no</c> in any case.</summary>
    /// <exception cref="ConfigException">"bad boolean configuration: name = value".</exception>
    public bool GetBool(string name)
    {
        string v = Get(name).Trim();
        if (v.Equals("yes", StringComparison.OrdinalIgnoreCase))
            return true;
        if (v.Equals("no", StringComparison.OrdinalIgnoreCase))
            return false;
        throw Bad(name, $"bad boolean configuration: {name} = {v}");
    }

    /// <summary>A whole-number parameter.</summary>
    /// <exception cref="ConfigException">"bad numerical configuration: name = value".</exception>
    public long GetNumber(string name)
    {
        string v = Get(name).Trim();
        if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n))
            return n;
        throw Bad(name, $"bad numerical configuration: {name} = {v}");
    }

    /// <summary>A size parameter, in bytes. Like Postfix, a plain number without unit suffixes.</summary>
    public long GetSize(string name) => GetNumber(name);

    /// <summary>A time parameter: a number with an optional unit s, m, h, d or w; a bare number has the unit
    /// of the parameter's default (postconf(5): "delay_warning_time = 4" means 4 hours).</summary>
    /// <exception cref="ConfigException">"parameter name: bad time value or unit: value".</exception>
    public TimeSpan GetTime(string name)
    {
        string v = Get(name).Trim();
        char unit = ParameterRegistry.TryGet(name, out var p) ? p.DefaultTimeUnit : 's';
        if (TryParseTime(v, unit, out var t))
            return t;
        throw Bad(name, $"parameter {name}: bad time value or unit: {v}");
    }

    internal static bool TryParseTime(string v, char defaultUnit, out TimeSpan time)
    {
        time = default;
        int digits = 0;
        while (digits < v.Length && char.IsAsciiDigit(v[digits]))
            digits++;
        if (digits == 0 || digits < v.Length - 1)
            return false;
        if (!long.TryParse(v.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out long n))
            return false;
        long seconds = (digits == v.Length ? defaultUnit : char.ToLowerInvariant(v[^1])) switch
        {
            's' => 1, 'm' => 60, 'h' => 3600, 'd' => 86400, 'w' => 604800, _ => -1,
        };
        if (seconds < 0 || n > TimeSpan.MaxValue.TotalSeconds / seconds)
            return false;
        time = TimeSpan.FromSeconds(n * seconds);
        return true;
    }

    /// <summary>A list parameter, expanded and split on commas and/or white space. A <c>{ … }</c> group
    /// stays one element (Postfix 3.0 syntax for arguments with white space).</summary>
    public IReadOnlyList<string> GetList(string name) => SplitList(Get(name));

    internal static List<string> SplitList(string text)
    {
        var items = new List<string>();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c is ' ' or '\t' or ',' or '\r' or '\n')
            {
                i++;
                continue;
            }
            int start = i;
            if (c == '{' && Expander.MatchingClose(text, i) is int close and > 0)
            {
                i = close + 1;
            }
            else
            {
                // Postfix mystrtokq(3): a { } group inside an element (inline:{ a=b, c=d }) stays part of it.
                while (i < text.Length && text[i] is not (' ' or '\t' or ',' or '\r' or '\n'))
                {
                    if (text[i] == '{' && Expander.MatchingClose(text, i) is int inner and > 0)
                        i = inner;
                    i++;
                }
            }
            items.Add(text[start..i]);
        }
        return items;
    }

    private ConfigException Bad(string name, string detail)
    {
        var (file, line) = Where(name);
        return new ConfigException(file, line, detail);
    }

    /// <summary>Whether <paramref name="name"/> is a parameter Posthorn would read: in the registry, referenced by
    /// another value, or a per-service parameter (<c>relay_destination_concurrency_limit</c> for a master.cf
    /// service <c>relay</c>).</summary>
    internal bool IsUsedName(string name, HashSet<string> referenced)
    {
        // Postfix postconf: a name Postfix itself knows is never "unused", even where Posthorn ignores it.
        if (ParameterRegistry.All.ContainsKey(name) || PostfixParameterNames.Contains(name) || referenced.Contains(name))
            return true;
        foreach (var s in Master.Services)
        {
            if (name.Length <= s.Name.Length + 1 || !name.StartsWith(s.Name + "_", StringComparison.Ordinal))
                continue;
            string suffix = name[(s.Name.Length + 1)..];
            if (IsKnown("default_" + suffix) || IsKnown(s.Command + "_" + suffix))
                return true;
        }
        return false;
    }

    private static bool IsKnown(string name) => ParameterRegistry.All.ContainsKey(name) || PostfixParameterNames.Contains(name);

    /// <summary>The main.cf settings of Postfix parameters that Posthorn does not implement, in file order, with
    /// their line numbers: they are accepted and have no effect (<c>postfix check</c> names each one once).</summary>
    public IReadOnlyList<(string Name, int Line)> NotImplemented =>
        [.. _settings.Where(kv => !ParameterRegistry.All.ContainsKey(kv.Key) && PostfixParameterNames.Contains(kv.Key))
            .OrderBy(kv => kv.Value.Line).Select(kv => (kv.Key, kv.Value.Line))];

    /// <summary>Postfix postconf: "main.cf: unused parameter: name=value" for a setting nothing reads.</summary>
    private void CheckUnused()
    {
        var referenced = Referenced();
        foreach (var (name, s) in _settings.OrderBy(kv => kv.Value.Line))
        {
            if (!IsUsedName(name, referenced))
                _warnings.Add($"{MainCfPath}: unused parameter: {name}={s.Value}");
        }
    }

    /// <summary>The names that main.cf values and master.cf <c>-o</c> overrides refer to or set.</summary>
    private HashSet<string> Referenced()
    {
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in _settings.Values)
            referenced.UnionWith(Expander.References(s.Value));
        foreach (var svc in Master.Services)
        {
            foreach (var (k, v) in svc.Overrides)
            {
                referenced.Add(k);
                referenced.UnionWith(Expander.References(v));
            }
        }
        return referenced;
    }

    /// <summary>The class of a parameter name as <c>postconf -C</c> names it: <c>builtin</c> (Posthorn's registry
    /// or Postfix's own names), <c>service</c> (a per-service name such as <c>relay_destination_concurrency_limit</c>
    /// for a master.cf service), otherwise <c>user</c>.</summary>
    public string ParameterClass(string name)
    {
        if (IsKnown(name))
            return "builtin";
        return IsUsedName(name, []) ? "service" : "user";
    }

    /// <summary>Whether <paramref name="name"/> is a known parameter or a main.cf setting that something reads
    /// (a <c>$name</c> reference, a per-service parameter); such names are listed by <c>postconf</c>.</summary>
    public bool IsKnownOrUsed(string name)
    {
        if (IsKnown(name))
            return true;
        return _settings.ContainsKey(name) && IsUsedName(name, Referenced());
    }
}
