using Microsoft.Data.Sqlite;

namespace Posthorn.Store.Maildir;

/// <summary>The index beside one Maildir folder: <c>posthorn-index.sqlite</c> in the folder's directory.</summary>
/// <remarks>
/// DESIGN.md decision 5: the files stay the truth; the index keeps what the files cannot: UIDVALIDITY,
/// UIDNEXT, the UID of each file (by its unique base name), keywords, modseqs, and cached
/// RFC822.SIZE and INTERNALDATE so that SELECT does not read every message. Deleting the file is
/// safe: it is rebuilt from the mail with a new UIDVALIDITY (RFC 9051 §2.3.1.1 requires a new one
/// whenever UIDs cannot be kept).
/// Schema: meta(key, value) with uidvalidity, uidnext, highestmodseq, and newmtime/curmtime: the directory
/// modification times the last reconciliation started from, so that a process opening the index again lists
/// the directories only when they changed since;
/// msg(uid, base, rel, flags, keywords, modseq, size, internaldate) where rel says where the file is without repeating
/// its base name: "n" + REST for new/BASE+REST, "c" + REST for cur/BASE+REST (REST is the info, ":2,S"), any other path
/// whole (with its '/'; indexes written before this form hold every path whole); a negative size -1-N says that N and
/// the internaldate are estimates taken from the file name at the scan (no file opened), made exact when first needed
/// (<see cref="MessageInfo.Estimated"/>);
/// expunged(uid, modseq): every UID removed under this UIDVALIDITY with the modseq of its removal, so that
/// QRESYNC can answer VANISHED (EARLIER) (RFC 7162 §3.2.5, §3.2.6). A rebuilt index starts a new UIDVALIDITY,
/// and an empty table is then exact. The table is bounded (<see cref="ExpungedLimit"/>): past it the oldest rows go, and
/// meta keeps expungedfloor (the highest modseq dropped) and expungedtrimuid (the highest UID dropped), so that a
/// question from before the floor is answered with a superset (<see cref="ReadExpungedSince"/>).
/// cache(field, uid, value): parse results of the protocol layer (for IMAP the ENVELOPE and BODYSTRUCTURE
/// responses and the header block), so that FETCH ENVELOPE and SEARCH FROM answer without reading every file
/// (Dovecot's dovecot.index.cache plays this part). A Maildir file never changes under its name (the
/// convention: a changed message is a new file, hence a new UID), so a value stays valid until its UID is
/// expunged, when it is deleted with the message row.
/// Concurrency: one connection per open folder in this process, used under the folder's lock; other
/// processes are noticed through <c>PRAGMA data_version</c>. base is not declared UNIQUE (that index cost a first scan of
/// 100,000 files more than the table itself): a base name in two rows, which only two processes scanning the same new
/// files at once could write, is repaired when the folder loads the rows (the lower UID stays, the other is expunged).
/// </remarks>
internal sealed class MaildirIndex : IDisposable
{
    public const string FileName = "posthorn-index.sqlite";

    private readonly SqliteConnection _db;

    public MaildirIndex(string folderPath)
    {
        _db = SqliteIndexFile.Open(Path.Combine(folderPath, FileName), """
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS msg(uid INTEGER PRIMARY KEY, base TEXT NOT NULL, rel TEXT NOT NULL,
              flags INTEGER NOT NULL, keywords TEXT NOT NULL, modseq INTEGER NOT NULL, size INTEGER NOT NULL,
              internaldate INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS expunged(uid INTEGER PRIMARY KEY, modseq INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS cache(field TEXT NOT NULL, uid INTEGER NOT NULL, value BLOB NOT NULL,
              PRIMARY KEY(field, uid)) WITHOUT ROWID;
            """);
    }

    /// <summary>Opens the index of <paramref name="folderPath"/>; one SQLite finds damaged is discarded
    /// and a new one starts (the caller's rescan rebuilds it from the files, with a new UIDVALIDITY).</summary>
    public static MaildirIndex OpenOrReset(string folderPath)
    {
        try
        {
            return new MaildirIndex(folderPath);
        }
        catch (SqliteException e) when (IsDamage(e))
        {
            Discard(folderPath);
            return new MaildirIndex(folderPath);
        }
    }

    /// <summary>SQLITE_CORRUPT (11) or SQLITE_NOTADB (26): the file was truncated or overwritten.</summary>
    public static bool IsDamage(SqliteException e) => e.SqliteErrorCode is 11 or 26;

    /// <summary>Moves a damaged index aside as <c>posthorn-index.sqlite.corrupt</c> (for a post-mortem)
    /// and deletes its WAL and shared-memory files, which belong to it alone.</summary>
    public static void Discard(string folderPath)
    {
        string db = Path.Combine(folderPath, FileName);
        if (File.Exists(db)) File.Move(db, db + ".corrupt", overwrite: true);
        File.Delete(db + "-wal");
        File.Delete(db + "-shm");
    }

    public readonly record struct Row(uint Uid, string Base, string Rel, MessageFlags Flags, string Keywords, ulong ModSeq,
        long Size, long InternalDate, bool Estimated = false);

    /// <summary>Rows of the expunged table kept at most; past it the oldest go, down to four fifths of it.</summary>
    public int ExpungedLimit { get; init; } = 20_000;

    public long DataVersion() => (long)Scalar("PRAGMA data_version")!;

    /// <summary>Reads (uidvalidity, uidnext, highestmodseq); zeros for a new index.</summary>
    public (uint UidValidity, uint UidNext, ulong HighestModSeq) ReadMeta()
    {
        uint validity = 0, next = 1;
        ulong modseq = 1;
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT key, value FROM meta";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            long v = r.GetInt64(1);
            switch (r.GetString(0))
            {
                case "uidvalidity": validity = (uint)v; break;
                case "uidnext": next = (uint)v; break;
                case "highestmodseq": modseq = (ulong)v; break;
            }
        }
        return (validity, next, modseq);
    }

    /// <summary>The modification times (ticks) of new/ and cur/ when the files were last reconciled with this
    /// index; zero when never recorded.</summary>
    public (long New, long Cur) ReadScanTimes()
    {
        long n = 0, c = 0;
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT key, value FROM meta WHERE key IN ('newmtime', 'curmtime')";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (r.GetString(0) == "newmtime") n = r.GetInt64(1);
            else c = r.GetInt64(1);
        }
        return (n, c);
    }

    public void WriteScanTimes(long newTicks, long curTicks)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "INSERT OR REPLACE INTO meta(key, value) VALUES ('newmtime', $n), ('curmtime', $c)";
        cmd.Parameters.AddWithValue("$n", newTicks);
        cmd.Parameters.AddWithValue("$c", curTicks);
        cmd.ExecuteNonQuery();
    }

    public List<Row> ReadAll()
    {
        var rows = new List<Row>();
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT uid, base, rel, flags, keywords, modseq, size, internaldate FROM msg ORDER BY uid";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            long size = r.GetInt64(6);
            string baseName = r.GetString(1);
            rows.Add(new Row((uint)r.GetInt64(0), baseName, UnpackRel(baseName, r.GetString(2)), (MessageFlags)r.GetInt32(3),
                r.GetString(4), (ulong)r.GetInt64(5), size < 0 ? -1 - size : size, r.GetInt64(7), size < 0));
        }
        return rows;
    }

    /// <summary>The stored form of <paramref name="rel"/> (see the remarks): the base name is not written twice.</summary>
    internal static string PackRel(string baseName, string rel)
    {
        if (rel.Length < 4 || !rel.AsSpan(4).StartsWith(baseName, StringComparison.Ordinal)) return rel;
        var rest = rel.AsSpan(4 + baseName.Length);
        string? dir = rel.StartsWith("new/", StringComparison.Ordinal) ? "n" : rel.StartsWith("cur/", StringComparison.Ordinal) ? "c" : null;
        if (dir is null || rest.Contains('/')) return rel;
        // A file in new/ has no info: the one-letter form is a literal, not a string made per row.
        return rest.IsEmpty ? dir : string.Concat(dir, rest);
    }

    /// <summary>The relative path from its stored form; a whole path (with a '/') as it is.</summary>
    internal static string UnpackRel(string baseName, string stored)
    {
        if (stored.Contains('/') || stored.Length == 0) return stored;
        return stored[0] switch
        {
            'n' => string.Concat("new/", baseName, stored.AsSpan(1)),
            'c' => string.Concat("cur/", baseName, stored.AsSpan(1)),
            _ => stored,
        };
    }

    /// <summary>UIDs expunged with a modseq above <paramref name="modSeq"/>, in UID order. Exact unless rows that old
    /// were dropped (see the remarks): then also every UID up to the highest dropped one that is not
    /// <paramref name="present"/>, a superset, which RFC 7162 §3.2.5.2 allows (the client forgets UIDs it does not have).</summary>
    public List<uint> ReadExpungedSince(ulong modSeq, Func<uint, bool> present)
    {
        var uids = new List<uint>();
        using (var cmd = _db.CreateCommand())
        {
            cmd.CommandText = "SELECT uid FROM expunged WHERE modseq > $m ORDER BY uid";
            cmd.Parameters.AddWithValue("$m", (long)Math.Min(modSeq, long.MaxValue));
            using var r = cmd.ExecuteReader();
            while (r.Read()) uids.Add((uint)r.GetInt64(0));
        }
        long floor = Meta("expungedfloor"), trimUid = Meta("expungedtrimuid");
        if ((long)Math.Min(modSeq, long.MaxValue) >= floor || trimUid == 0) return uids;
        var all = new SortedSet<uint>(uids);
        for (uint u = 1; u <= trimUid; u++)
            if (!present(u)) all.Add(u);
        return [.. all];
    }

    private long Meta(string key)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT value FROM meta WHERE key = $k";
        cmd.Parameters.AddWithValue("$k", key);
        return cmd.ExecuteScalar() is long v ? v : 0;
    }

    /// <summary>Drops the oldest expunged rows once there are more than <see cref="ExpungedLimit"/> (all rows of one
    /// modseq together), recording the floor and the highest dropped UID.</summary>
    private void TrimExpunged(SqliteTransaction tx)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT count(*) FROM expunged";
        if ((long)cmd.ExecuteScalar()! <= ExpungedLimit) return;
        cmd.CommandText = "SELECT modseq FROM expunged ORDER BY modseq DESC LIMIT 1 OFFSET $keep";
        cmd.Parameters.AddWithValue("$keep", (long)ExpungedLimit * 4 / 5);
        long cut = (long)cmd.ExecuteScalar()!;
        cmd.Parameters.Clear();
        cmd.CommandText = """
            INSERT OR REPLACE INTO meta(key, value) VALUES
              ('expungedtrimuid', max(coalesce((SELECT value FROM meta WHERE key = 'expungedtrimuid'), 0),
                                      (SELECT max(uid) FROM expunged WHERE modseq <= $c))),
              ('expungedfloor', max(coalesce((SELECT value FROM meta WHERE key = 'expungedfloor'), 0), $c));
            DELETE FROM expunged WHERE modseq <= $c;
            """;
        cmd.Parameters.AddWithValue("$c", cut);
        cmd.ExecuteNonQuery();
    }

    /// <summary>Writes a batch of changes in one transaction; deleted UIDs are remembered as expunged at
    /// <paramref name="highestModSeq"/> (the caller gives the expunge its own modseq first).</summary>
    public void Commit(uint uidValidity, uint uidNext, ulong highestModSeq, IEnumerable<Row> upserts, IEnumerable<uint> deletes,
        IReadOnlyList<(string Field, uint Uid, byte[] Value)>? cache = null)
    {
        using var tx = _db.BeginTransaction();
        using (var meta = _db.CreateCommand())
        {
            meta.Transaction = tx;
            meta.CommandText = "INSERT OR REPLACE INTO meta(key, value) VALUES ('uidvalidity', $v), ('uidnext', $n), ('highestmodseq', $m)";
            meta.Parameters.AddWithValue("$v", (long)uidValidity);
            meta.Parameters.AddWithValue("$n", (long)uidNext);
            meta.Parameters.AddWithValue("$m", (long)highestModSeq);
            meta.ExecuteNonQuery();
        }
        using (var up = new SqliteStatement(_db,
                   "INSERT OR REPLACE INTO msg(uid, base, rel, flags, keywords, modseq, size, internaldate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"))
        {
            foreach (var row in upserts)
            {
                up.Bind(1, row.Uid).Bind(2, row.Base).Bind(3, PackRel(row.Base, row.Rel)).Bind(4, (int)row.Flags).Bind(5, row.Keywords)
                    .Bind(6, (long)row.ModSeq).Bind(7, row.Estimated ? -1 - row.Size : row.Size).Bind(8, row.InternalDate)
                    .Run();
            }
        }
        using (var del = _db.CreateCommand())
        {
            del.Transaction = tx;
            del.CommandText = "DELETE FROM msg WHERE uid = $u; DELETE FROM cache WHERE uid = $u; INSERT OR REPLACE INTO expunged(uid, modseq) VALUES ($u, $m)";
            var pu = del.Parameters.Add("$u", SqliteType.Integer);
            del.Parameters.AddWithValue("$m", (long)highestModSeq);
            bool any = false;
            foreach (uint uid in deletes)
            {
                pu.Value = (long)uid;
                del.ExecuteNonQuery();
                any = true;
            }
            if (any) TrimExpunged(tx);
        }
        if (cache is not null) InsertCache(cache);
        tx.Commit();
    }

    /// <summary>The cached <paramref name="field"/> values of the given UIDs (ascending): one range query, its rows (in
    /// key order) matched against the UIDs as they come.</summary>
    public Dictionary<uint, byte[]> ReadCache(string field, IReadOnlyList<uint> sortedUids)
    {
        var found = new Dictionary<uint, byte[]>(sortedUids.Count);
        if (sortedUids.Count == 0) return found;
        using var query = new SqliteStatement(_db, "SELECT uid, value FROM cache WHERE field = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid");
        query.Bind(1, field).Bind(2, sortedUids[0]).Bind(3, sortedUids[^1]);
        int next = 0;
        while (query.Step())
        {
            uint uid = (uint)query.Int64(0);
            while (next < sortedUids.Count && sortedUids[next] < uid) next++;
            if (next == sortedUids.Count) break;
            if (sortedUids[next] == uid) found[uid] = query.Blob(1).ToArray();
        }
        return found;
    }

    /// <summary>Stores cached values in one transaction; values of UIDs no longer in msg are skipped.</summary>
    public void WriteCache(IReadOnlyList<(string Field, uint Uid, byte[] Value)> values)
    {
        using var tx = _db.BeginTransaction();
        InsertCache(values);
        tx.Commit();
    }

    /// <summary>Values of one UID that are next to each other in <paramref name="values"/> (a message's fields, as the
    /// protocol layer computes them together) go in one statement, one per message.</summary>
    private void InsertCache(IReadOnlyList<(string Field, uint Uid, byte[] Value)> values)
    {
        const int most = 8;
        var statements = new SqliteStatement?[most + 1];
        try
        {
            for (int i = 0; i < values.Count;)
            {
                uint uid = values[i].Uid;
                int n = 1;
                while (n < most && i + n < values.Count && values[i + n].Uid == uid) n++;
                var insert = statements[n] ??= CacheInsert(n);
                insert.Bind(1, uid);
                for (int k = 0; k < n; k++) insert.Bind(2 + 2 * k, values[i + k].Field).Bind(3 + 2 * k, values[i + k].Value);
                insert.Run();
                i += n;
            }
        }
        finally
        {
            foreach (var st in statements) st?.Dispose();
        }
    }

    /// <summary>INSERT of <paramref name="n"/> fields of one UID (?1), field and value from ?2 and ?3 on, skipped when
    /// the UID is not in msg.</summary>
    private SqliteStatement CacheInsert(int n)
    {
        var rows = string.Join(", ", Enumerable.Range(0, n).Select(k => $"(?{2 + 2 * k}, ?{3 + 2 * k})"));
        return new SqliteStatement(_db, $"INSERT OR REPLACE INTO cache(field, uid, value) SELECT column1, ?1, column2 FROM (VALUES {rows}) "
            + "WHERE EXISTS (SELECT 1 FROM msg WHERE uid = ?1)");
    }

    private object? Scalar(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    public void Dispose() => _db.Dispose();
}
