namespace Posthorn.Config.Tables;

/// <summary><c>hash:FILE</c> and <c>btree:FILE</c>: the table compiled by <c>postmap</c> into <c>FILE.db</c>
/// (format in <see cref="HashFile"/>).</summary>
/// <remarks>Each lookup opens FILE.db and reads only the bucket and records it needs, so a table rebuilt by
/// postmap (an atomic rename) is seen at the next lookup, as Postfix daemons see it after their restart.
/// Keys are folded to lower case when the table was built that way (postmap without -f).
/// Postfix dict_db: at open, "database FILE.db is older than source file FILE" when the source changed after
/// the last compile and more than 100 seconds ago (a younger change may be about to be compiled).</remarks>
public sealed class HashTable : IListableLookupTable
{
    private readonly string _dbPath;

    private HashTable(string name, string dbPath)
    {
        Name = name;
        _dbPath = dbPath;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Opens <c>type:path</c> (<paramref name="type"/> is hash or btree).</summary>
    /// <exception cref="LookupTableException">FILE.db is missing, unreadable or not a Posthorn table.</exception>
    public static HashTable Open(string type, string path, LookupTableOptions options)
    {
        string name = $"{type}:{path}";
        string dbPath = path + ".db";
        try
        {
            using var reader = new HashFile.Reader(dbPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new LookupTableException(name, $"open database {dbPath}: {LookupTables.Why(e)}");
        }
        DateTime dbTime = File.GetLastWriteTimeUtc(dbPath);
        if (File.Exists(path))
        {
            DateTime srcTime = File.GetLastWriteTimeUtc(path);
            if (srcTime > dbTime && srcTime < options.Clock.GetUtcNow().UtcDateTime.AddSeconds(-100))
                options.Warn?.Invoke($"database {dbPath} is older than source file {path}");
        }
        return new HashTable(name, dbPath);
    }

    /// <inheritdoc/>
    public bool TryLookup(string key, out string value)
    {
        try
        {
            using var reader = new HashFile.Reader(_dbPath);
            if ((reader.Flags & HashFile.FlagFolded) != 0)
                key = key.ToLowerInvariant();
            return reader.TryGet(key, out value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new LookupTableException(Name, $"{Name}: table lookup problem: {LookupTables.Why(e)}");
        }
    }

    /// <inheritdoc/>
    public IEnumerable<KeyValuePair<string, string>> Entries()
    {
        List<KeyValuePair<string, string>> all;
        try
        {
            using var reader = new HashFile.Reader(_dbPath);
            all = [.. reader.ReadAll()];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new LookupTableException(Name, $"{Name}: table lookup problem: {LookupTables.Why(e)}");
        }
        return all;
    }
}
