using System.Collections.Frozen;
using System.Text;
using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>The compiled alias map named by <c>alias_maps</c> / <c>alias_database</c>
/// (<c>hash:/etc/aliases</c> is read from <c>/etc/aliases.db</c>, which newaliases(1) builds).</summary>
/// <remarks>
/// File format (Posthorn's own, not Berkeley DB): the 8 ASCII bytes <c>PHALIAS1</c>, a 32-bit
/// little-endian entry count, then per entry the key and a 32-bit target count followed by the
/// targets, every string written as a 7-bit-encoded byte length and UTF-8 bytes (.NET
/// BinaryWriter). Keys are lower case and unique, in ordinal order. The whole map is loaded into
/// memory: alias files are small. A reader notices a recompiled file (inode, size or mtime
/// changed) at its next lookup and reloads it, as a Postfix daemon restarts after a change.
/// Parameters: alias_maps, alias_database.
/// </remarks>
public sealed class AliasDatabase
{
    private static ReadOnlySpan<byte> Magic => "PHALIAS1"u8;

    private readonly string _dbPath;
    private volatile Snapshot _current;

    private sealed record Snapshot(FrozenDictionary<string, string[]> Map, long Mtime, long Size, ulong Inode, uint Uid = 0, uint Gid = 0);

    private AliasDatabase(string sourcePath, string dbPath, Snapshot snapshot)
    {
        SourcePath = sourcePath;
        _dbPath = dbPath;
        _current = snapshot;
    }

    /// <summary>The text file the map was compiled from.</summary>
    public string SourcePath { get; }

    /// <summary>The owner (uid, gid) of the compiled file (texthash: of the text file). Postfix
    /// local(8) runs |command and /file targets of a map not owned by root with these rights.</summary>
    public (uint Uid, uint Gid) Owner => (Current.Uid, Current.Gid);

    /// <summary>Every key (lower case), for postalias -s style listings and tests.</summary>
    public IEnumerable<string> Keys => Current.Map.Keys;

    /// <summary>Compiles aliases(5) text at <paramref name="sourcePath"/> into <paramref name="dbPath"/>
    /// atomically (temporary file, fsync, rename). Returns the warnings, parse errors first, in
    /// postalias's wording. A missing source throws <see cref="IOException"/>.</summary>
    /// <param name="replaceDuplicates">postalias -r: a later duplicate replaces the earlier one;
    /// by default the first stays and the later one is warned about.</param>
    /// <param name="warnDuplicates">false for postalias -w: duplicates are dropped silently.</param>
    public static IReadOnlyList<string> Compile(string sourcePath, string dbPath, bool replaceDuplicates = false, bool warnDuplicates = true)
    {
        var parsed = AliasFile.Parse(File.ReadAllText(sourcePath), sourcePath);
        var warnings = new List<string>(parsed.Errors);
        var map = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var e in parsed.Entries)
        {
            // Postfix postalias(1): "By default the lookup key is mapped to lowercase".
            string key = e.Name.ToLowerInvariant();
            if (map.TryAdd(key, e.Targets)) continue;
            // Postfix dict_db: put without overwrite; the duplicate is warned about and ignored.
            if (warnDuplicates && !replaceDuplicates) warnings.Add($"{dbPath}: duplicate entry: \"{key}\"");
            if (replaceDuplicates) map[key] = e.Targets;
        }

        string dir = Path.GetDirectoryName(Path.GetFullPath(dbPath))!;
        string tmp = Path.Combine(dir, $".{Path.GetFileName(dbPath)}.{Environment.ProcessId}.{Random.Shared.Next():x8}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                // postalias(1): the result gets "the same group and other read permissions as the source file".
                var srcMode = File.GetUnixFileMode(sourcePath);
                File.SetUnixFileMode(fs.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite
                    | (srcMode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)));
                using (var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true))
                {
                    w.Write(Magic);
                    w.Write(map.Count);
                    foreach (var (key, targets) in map)
                    {
                        w.Write(key);
                        w.Write(targets.Count);
                        foreach (var t in targets) w.Write(t);
                    }
                }
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, dbPath, overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
        }
        return warnings;
    }

    /// <summary>Opens the map compiled from <paramref name="sourcePath"/> (<c>sourcePath.db</c>).</summary>
    /// <returns>null, after a warning, when the compiled file is missing or unreadable.</returns>
    /// <remarks>Warns (Postfix dict_db wording) when the source was changed after the last
    /// compile, unless the change is less than 100 seconds old: the administrator may be about
    /// to run newaliases.</remarks>
    public static AliasDatabase? Open(string sourcePath, MailLog log, TimeProvider? clock = null, string program = "local")
    {
        string dbPath = sourcePath + ".db";
        Snapshot snapshot;
        try
        {
            snapshot = Load(dbPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            string why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
                UnauthorizedAccessException => "Permission denied",
                _ => e.Message,
            };
            log.Warning(program, $"hash:{sourcePath} is unavailable. open database {dbPath}: {why}");
            return null;
        }
        var now = (clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds();
        if (LibC.TryLstat(sourcePath, out var src, out _) && src.MtimeSeconds > snapshot.Mtime && src.MtimeSeconds < now - 100)
            log.Warning(program, $"database {dbPath} is older than source file {sourcePath}");
        return new AliasDatabase(sourcePath, dbPath, snapshot);
    }

    /// <summary>Opens a map named as in <c>alias_maps</c>: <c>hash:/etc/aliases</c> (compiled) or
    /// <c>texthash:/etc/aliases</c> (parsed at open; needs no newaliases). Other types get a warning and null.</summary>
    public static AliasDatabase? OpenMap(string map, MailLog log, TimeProvider? clock = null, string program = "local")
    {
        int colon = map.IndexOf(':');
        string type = colon > 0 ? map[..colon] : "hash";
        string path = colon > 0 ? map[(colon + 1)..] : map;
        switch (type)
        {
            case "hash":
                return Open(path, log, clock, program);
            case "texthash":
                try
                {
                    var parsed = AliasFile.Parse(File.ReadAllText(path), path);
                    foreach (var error in parsed.Errors) log.Warning(program, error);
                    var dict = new Dictionary<string, string[]>(StringComparer.Ordinal);
                    foreach (var e in parsed.Entries) dict.TryAdd(e.Name.ToLowerInvariant(), e.Targets.ToArray());
                    LibC.TryStat(path, out var st, out _);
                    return new AliasDatabase(path, "", new Snapshot(dict.ToFrozenDictionary(StringComparer.Ordinal), 0, 0, 0, st.Uid, st.Gid));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    log.Warning(program, $"texthash:{path} is unavailable. open {path}: {e.Message}");
                    return null;
                }
            default:
                log.Warning(program, $"{map} is unavailable. unsupported dictionary type: {type}");
                return null;
        }
    }

    /// <summary>Looks up a name, folded to lower case; true with the alias's targets when found.</summary>
    public bool TryLookup(string name, out IReadOnlyList<string> targets)
    {
        if (Current.Map.TryGetValue(name.ToLowerInvariant(), out var found))
        {
            targets = found;
            return true;
        }
        targets = [];
        return false;
    }

    private Snapshot Current
    {
        get
        {
            var s = _current;
            if (_dbPath.Length == 0) return s;
            // A recompiled map replaces the file by rename: reload once it looks different.
            if (LibC.TryLstat(_dbPath, out var st, out _) && (st.Inode != s.Inode || st.MtimeSeconds != s.Mtime || st.Size != s.Size))
            {
                try { _current = s = Load(_dbPath); }
                catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException) { /* keep the last good map */ }
            }
            return s;
        }
    }

    private static Snapshot Load(string dbPath)
    {
        using var fs = new FileStream(dbPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (!LibC.TryFstat((int)fs.SafeFileHandle.DangerousGetHandle(), out var st, out _))
            throw new IOException($"cannot stat {dbPath}");
        using var r = new BinaryReader(fs, Encoding.UTF8);
        try
        {
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException($"{dbPath}: not a Posthorn alias database");
            int count = r.ReadInt32();
            if (count < 0) throw new InvalidDataException($"{dbPath}: corrupt alias database");
            var dict = new Dictionary<string, string[]>(StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                string key = r.ReadString();
                int n = r.ReadInt32();
                if (n < 0 || n > fs.Length) throw new InvalidDataException($"{dbPath}: corrupt alias database");
                var targets = new string[n];
                for (int j = 0; j < n; j++) targets[j] = r.ReadString();
                dict[key] = targets;
            }
            return new Snapshot(dict.ToFrozenDictionary(StringComparer.Ordinal), st.MtimeSeconds, st.Size, st.Inode, st.Uid, st.Gid);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{dbPath}: truncated alias database");
        }
    }
}
