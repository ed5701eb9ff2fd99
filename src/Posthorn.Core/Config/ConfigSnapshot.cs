using System.Collections.Concurrent;

namespace Posthorn.Config;

/// <summary>main.cf and master.cf as read at one moment: an immutable view that the services keep for a
/// session while <c>reload</c> swaps in a new one (STYLE C12).</summary>
/// <remarks>
/// Postfix postconf(5): a parameter not in main.cf has its default; <c>$name</c> references are expanded
/// lazily, when a value is asked for, so the order of lines in main.cf does not matter; when a name is set
/// twice the last setting wins. Expansion results are cached per snapshot.
/// Parameters: every parameter in <see cref="ParameterRegistry"/>.
/// </remarks>
public sealed partial class ConfigSnapshot
{
    private readonly record struct Setting(string Value, string File, int Line);

    private readonly Dictionary<string, Setting> _settings;
    private readonly HostInfo _host;
    private readonly ConcurrentDictionary<string, string> _expanded = new(StringComparer.Ordinal);
    private readonly WarningList _warnings;
    private readonly Expander _expander;
    private readonly ThreadLocal<HashSet<string>> _computing = new(() => new HashSet<string>(StringComparer.Ordinal));

    private ConfigSnapshot(string directory, HostInfo host, Dictionary<string, Setting> settings, MasterConfig master, WarningList warnings)
    {
        ConfigDirectory = directory;
        _host = host;
        _settings = settings;
        Master = master;
        _warnings = warnings;
        // DEVIATION: a Postfix parameter that Posthorn does not implement expands empty, without a warning.
        _expander = new Expander(n => LookupRaw(n) ?? (PostfixParameterNames.Contains(n) ? "" : null), IsRawParameter, w => _warnings.Add($"{MainCfPath}: {w}"));
    }

    /// <summary>Reads <c>main.cf</c> and, when present, <c>master.cf</c> from <paramref name="configDirectory"/>.</summary>
    /// <exception cref="ConfigException">main.cf is missing or a line of either file cannot be parsed.</exception>
    public static ConfigSnapshot Load(string configDirectory, HostInfo? host = null) => Load(configDirectory, host, null);

    /// <summary>As <see cref="Load(string, HostInfo?)"/>, with <paramref name="overrides"/> taking the place of the
    /// main.cf settings of those names, without a warning (<c>postconf -o name=value</c>).</summary>
    public static ConfigSnapshot Load(string configDirectory, HostInfo? host, IReadOnlyList<KeyValuePair<string, string>>? overrides)
    {
        string main = Path.Combine(configDirectory, "main.cf");
        string master = Path.Combine(configDirectory, "master.cf");
        string mainText;
        try
        {
            mainText = File.ReadAllText(main);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException(main, 0, $"open {main}: No such file or directory");
        }
        catch (UnauthorizedAccessException)
        {
            throw new ConfigException(main, 0, $"open {main}: Permission denied");
        }
        string? masterText = File.Exists(master) ? File.ReadAllText(master) : null;
        return FromText(configDirectory, mainText, masterText, host ?? HostInfo.Detect(), overrides);
    }

    /// <summary>A snapshot with an empty main.cf and no master.cf: every parameter at its default (<c>postconf -d</c>).</summary>
    public static ConfigSnapshot Defaults(string configDirectory, HostInfo? host = null) =>
        FromText(configDirectory, "", null, host ?? HostInfo.Detect());

    /// <summary>Builds a snapshot from file contents.</summary>
    internal static ConfigSnapshot FromText(string configDirectory, string mainText, string? masterText, HostInfo host,
        IReadOnlyList<KeyValuePair<string, string>>? overrides = null)
    {
        var warnings = new WarningList();
        string mainPath = Path.Combine(configDirectory, "main.cf");
        var settings = new Dictionary<string, Setting>(StringComparer.Ordinal);
        foreach (var e in MainCf.Parse(LogicalLines.Physical(mainText), mainPath, warnings.Add))
        {
            // Postfix dict_load_fp: the last setting of a name wins, with a warning that shows the earlier value
            // (checked against Postfix 3.7).
            if (settings.TryGetValue(e.Name, out var earlier))
                warnings.Add($"{mainPath}, line {e.Where.Line}: overriding earlier entry: {e.Name}={earlier.Value}");
            settings[e.Name] = new Setting(e.Value, mainPath, e.Where.Line);
        }
        foreach (var (name, value) in overrides ?? [])
            settings[name] = new Setting(value, mainPath, 0);
        var master = masterText is null
            ? MasterConfig.Empty
            : MasterConfig.Parse(masterText, Path.Combine(configDirectory, "master.cf"));
        var snapshot = new ConfigSnapshot(configDirectory, host, settings, master, warnings);
        snapshot.CheckUnused();
        // Expand every setting once now, so that undefined names and loops show up in Warnings at load.
        foreach (string name in settings.Keys)
            snapshot.Get(name);
        return snapshot;
    }

    /// <summary>The directory main.cf was read from (also <c>config_directory</c>).</summary>
    public string ConfigDirectory { get; }

    /// <summary>The master.cf service table (empty when there is no master.cf).</summary>
    public MasterConfig Master { get; }

    /// <summary>Non-fatal problems: undefined <c>$name</c>, expansion loops, unused and repeated parameters.</summary>
    public IReadOnlyList<string> Warnings => _warnings.ToArray();

    internal string MainCfPath => Path.Combine(ConfigDirectory, "main.cf");

    internal HostInfo Host => _host;

    /// <summary>The expanded value of <paramref name="name"/>: main.cf, else the default; "" for an unknown name.</summary>
    public string Get(string name)
    {
        if (IsRawParameter(name))
            return GetRaw(name);
        if (_expanded.TryGetValue(name, out string? v))
            return v;
        return _expanded.GetOrAdd(name, _expander.Expand(GetRaw(name), name));
    }

    /// <summary>The value as written in main.cf, else the default expression (computed defaults are computed).</summary>
    public string GetRaw(string name) => LookupRaw(name) ?? "";

    /// <summary>Whether main.cf (or a master.cf override) sets <paramref name="name"/>.</summary>
    public bool IsSet(string name) => _settings.ContainsKey(name);

    /// <summary>A snapshot with master.cf <c>-o name=value</c> overrides on top of main.cf.</summary>
    public ConfigSnapshot WithOverrides(IReadOnlyDictionary<string, string> overrides)
    {
        if (overrides.Count == 0)
            return this;
        var settings = new Dictionary<string, Setting>(_settings, StringComparer.Ordinal);
        string masterPath = Path.Combine(ConfigDirectory, "master.cf");
        foreach (var (name, value) in overrides)
            settings[name] = new Setting(value, masterPath, 0);
        return new ConfigSnapshot(ConfigDirectory, _host, settings, Master, _warnings.Copy());
    }

    /// <summary>The main.cf line that sets <paramref name="name"/>, for error messages; (main.cf, 0) when unset.</summary>
    internal (string File, int Line) Where(string name) =>
        _settings.TryGetValue(name, out var s) ? (s.File, s.Line) : (MainCfPath, 0);

    /// <summary>The 1-based main.cf line that sets <paramref name="name"/>; 0 when unset.</summary>
    public int LineOf(string name) => _settings.TryGetValue(name, out var s) ? s.Line : 0;

    /// <summary>The names set in main.cf (and overrides), sorted by ordinal comparison as <c>postconf -n</c> lists them.</summary>
    public IReadOnlyList<string> SetNames => [.. _settings.Keys.Order(StringComparer.Ordinal)];

    private string? LookupRaw(string name)
    {
        if (_settings.TryGetValue(name, out var s))
            return s.Value;
        if (!ParameterRegistry.TryGet(name, out var p))
            return null;
        return p.Computed ? ComputedDefault(name, configured: true) : p.Default;
    }

    private static bool IsRawParameter(string name) => ParameterRegistry.TryGet(name, out var p) && p.Raw;

    /// <summary>The value of a parameter with a computed default. With <paramref name="configured"/> the
    /// computation follows main.cf (mydomain from the configured myhostname); without it, only the machine.</summary>
    internal string ComputedDefault(string name, bool configured)
    {
        if (!configured)
            return ComputeDefault(name, configured);
        // A computed default that depends on a setting that refers back to it (myhostname = $mydomain)
        // would recurse without end; the second entry uses the machine-only computation instead.
        var busy = _computing.Value!;
        if (!busy.Add(name))
        {
            _warnings.Add($"{MainCfPath}: parameter {name}: unreasonable macro call nesting");
            return ComputeDefault(name, configured: false);
        }
        try
        {
            return ComputeDefault(name, configured);
        }
        finally
        {
            busy.Remove(name);
        }
    }

    private string ComputeDefault(string name, bool configured) => name switch
    {
        "myhostname" => _host.Fqdn,
        // Postfix mail_params.c: mydomain is myhostname less its first label, "localdomain" for a single label.
        "mydomain" => DomainOf(configured ? Get("myhostname") : _host.Fqdn),
        "mynetworks" => ComputeMyNetworks(configured ? Get("mynetworks_style") : "host").ToString(),
        // Postfix postconf -d shows the compiled-in directory, not the one in use.
        "config_directory" => configured ? ConfigDirectory : "/etc/postfix",
        _ => ParameterRegistry.TryGet(name, out var p) ? p.Default : "",
    };

    private static string DomainOf(string hostname)
    {
        int dot = hostname.IndexOf('.');
        return dot > 0 && dot < hostname.Length - 1 ? hostname[(dot + 1)..] : "localdomain";
    }

    /// <summary>The default of <paramref name="name"/> regardless of main.cf, expanded over defaults when
    /// <paramref name="expand"/> is set (<c>postconf -d</c>, <c>postconf -dx</c>); null for an unknown name.</summary>
    public string? GetDefault(string name, bool expand = false)
    {
        if (!ParameterRegistry.TryGet(name, out var p))
            return null;
        string raw = p.Computed ? ComputedDefault(name, configured: false) : p.Default;
        if (!expand || p.Raw)
            return raw;
        var defaults = new Expander(
            n => ParameterRegistry.TryGet(n, out var q) ? (q.Computed ? ComputedDefault(n, configured: false) : q.Default) : null,
            IsRawParameter, _ => { });
        return defaults.Expand(raw, name);
    }

    /// <summary>Thread-safe, ordered, duplicate-free list of warnings.</summary>
    private sealed class WarningList
    {
        private readonly List<string> _items = [];
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
        private readonly Lock _lock = new();

        public void Add(string warning)
        {
            lock (_lock)
            {
                if (_seen.Add(warning))
                    _items.Add(warning);
            }
        }

        public string[] ToArray()
        {
            lock (_lock)
                return [.. _items];
        }

        public WarningList Copy()
        {
            var copy = new WarningList();
            foreach (string w in ToArray())
                copy.Add(w);
            return copy;
        }
    }
}
