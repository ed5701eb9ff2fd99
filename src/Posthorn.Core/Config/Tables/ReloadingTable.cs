namespace Posthorn.Config.Tables;

/// <summary>A table read from a source file at open (<c>texthash:</c>, <c>cidr:</c>, <c>regexp:</c>, <c>pcre:</c>)
/// that is read again when the file changes, so a running daemon follows an edited table.</summary>
/// <remarks>Postfix dict(3) "dict_changed": a daemon notices that a table file changed and restarts after the
/// request; Posthorn's services live in one process, so the table itself is replaced instead. Each lookup
/// compares the file's modification time and length with those seen at the last read (one stat(2)); a change
/// reads the file again. A file that cannot be read (removed, half-written) keeps the previous contents and a
/// warning names the problem; <c>postfix reload</c> opens every table afresh anyway.</remarks>
public sealed class ReloadingTable : IListableLookupTable
{
    private readonly string _path;
    private readonly Func<ILookupTable> _open;
    private readonly Action<string>? _warn;
    private readonly Lock _lock = new();
    private volatile State _state;

    private sealed record State(ILookupTable Table, DateTime Modified, long Length);

    /// <summary>Opens the table now with <paramref name="open"/>; <paramref name="path"/> is its source file.</summary>
    /// <exception cref="LookupTableException">The first read failed.</exception>
    public ReloadingTable(string name, string path, Func<ILookupTable> open, Action<string>? warn)
    {
        Name = name;
        _path = path;
        _open = open;
        _warn = warn;
        var (modified, length) = Stamp();
        _state = new State(open(), modified, length);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The table as last read, after a re-read when the file changed.</summary>
    public ILookupTable Current
    {
        get
        {
            var state = _state;
            var (modified, length) = Stamp();
            if (modified == state.Modified && length == state.Length)
                return state.Table;
            lock (_lock)
            {
                state = _state;
                if (modified == state.Modified && length == state.Length)
                    return state.Table;
                try
                {
                    _state = state = new State(_open(), modified, length);
                }
                catch (LookupTableException e)
                {
                    _warn?.Invoke($"{Name}: {e.Message}; keeping the table as last read");
                    _state = state = state with { Modified = modified, Length = length };
                }
                return state.Table;
            }
        }
    }

    /// <inheritdoc/>
    public bool TryLookup(string key, out string value) => Current.TryLookup(key, out value);

    /// <inheritdoc/>
    /// <exception cref="LookupTableException">The table type cannot list its entries (cidr, regexp).</exception>
    public IEnumerable<KeyValuePair<string, string>> Entries() => Current is IListableLookupTable listable
        ? listable.Entries()
        : throw new LookupTableException(Name, $"table {Name}: sequential access is not supported");

    private (DateTime Modified, long Length) Stamp()
    {
        var info = new FileInfo(_path);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1);
    }
}
