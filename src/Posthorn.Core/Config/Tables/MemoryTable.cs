namespace Posthorn.Config.Tables;

/// <summary>A fixed-string table held in memory: <c>texthash:FILE</c> (read once at open, no postmap needed)
/// and <c>inline:{ key=value, … }</c>.</summary>
/// <remarks>Postfix DATABASE_README: texthash "produces similar results as hash: files, except that you don't
/// need to run postmap(1) before you can use the file, and that texthash: does not detect changes after the
/// file is read". Keys are folded to lower case unless <see cref="LookupTableOptions.FoldKeys"/> is off.</remarks>
public sealed class MemoryTable : IListableLookupTable
{
    private readonly List<KeyValuePair<string, string>> _entries;
    private readonly Dictionary<string, string> _map;
    private readonly bool _fold;

    internal MemoryTable(string name, IEnumerable<KeyValuePair<string, string>> entries, bool fold)
    {
        Name = name;
        _fold = fold;
        _entries = [];
        _map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in entries)
        {
            string key = fold ? k.ToLowerInvariant() : k;
            if (_map.TryAdd(key, v))
                _entries.Add(new(key, v));
        }
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary><c>texthash:path</c>: parses the postmap source file now.</summary>
    /// <exception cref="LookupTableException">The file cannot be read.</exception>
    public static MemoryTable OpenText(string path, LookupTableOptions options)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LookupTableException("texthash:" + path, $"open {path}: {LookupTables.Why(e)}");
        }
        var entries = TableSource.Parse(text, path, options.FoldKeys, options.Warn);
        return new MemoryTable("texthash:" + path, entries.Select(e => new KeyValuePair<string, string>(e.Key, e.Value)), options.FoldKeys);
    }

    /// <summary><c>inline:{ key=value, { key = text with white space } }</c> (Postfix 3.0 DATABASE_README).</summary>
    /// <exception cref="LookupTableException">Not in braces, or an element without '='.</exception>
    public static MemoryTable OpenInline(string body, LookupTableOptions options)
    {
        string name = "inline:" + body;
        string t = body.Trim();
        if (t.Length < 2 || t[0] != '{' || Expander.MatchingClose(t, 0) != t.Length - 1)
            throw new LookupTableException(name, $"bad syntax: \"{name}\"; need \"inline:{{name=value...}}\"");
        var entries = new List<KeyValuePair<string, string>>();
        foreach (string item in ConfigSnapshot.SplitList(t[1..^1]))
        {
            string e = LookupTables.Unbrace(item);
            int eq = e.IndexOf('=');
            if (eq <= 0)
                throw new LookupTableException(name, $"bad syntax: \"{name}\"; need \"inline:{{name=value...}}\"");
            entries.Add(new(e[..eq].Trim(), e[(eq + 1)..].Trim()));
        }
        return new MemoryTable(name, entries, options.FoldKeys);
    }

    /// <inheritdoc/>
    public bool TryLookup(string key, out string value)
    {
        if (_map.TryGetValue(_fold ? key.ToLowerInvariant() : key, out string? found))
        {
            value = found;
            return true;
        }
        value = "";
        return false;
    }

    /// <inheritdoc/>
    public IEnumerable<KeyValuePair<string, string>> Entries() => _entries;
}
