using Microsoft.Data.Sqlite;

namespace Posthorn.Store.Mbox;

/// <summary>The index of one mbox INBOX: a SQLite file in a directory Posthorn owns
/// (<c>$data_directory/imapd-mbox/USER.sqlite</c>), never beside the mbox in the spool.</summary>
/// <remarks>
/// DESIGN.md decision 5: the mbox stays the truth; the index keeps what the file cannot: UIDVALIDITY,
/// UIDNEXT, HIGHESTMODSEQ, and per message its UID, where it was (offset and end), its key (see
/// <see cref="MboxMessageFilter"/>), the flags IMAP gave it and the flags last seen in (or written to)
/// its Status/X-Status headers, the keywords IMAP gave it and those last seen in its X-Keywords header,
/// modseq, size and INTERNALDATE; and the inode, size and mtime
/// of the file when it was last read, so that an unchanged mbox is not read at all on SELECT.
/// Schema: meta(key, value); msg(uid, key, offset, end, flags, fileflags, old, keywords, filekeywords, modseq,
/// size, internaldate) (filekeywords is added to an index made before it existed); expunged(uid, modseq) as in the Maildir index (RFC 7162 §3.2.5 VANISHED (EARLIER)).
/// Deleting the file is safe: it is rebuilt from the mbox with a new UIDVALIDITY.
/// </remarks>
internal sealed class MboxIndex : IDisposable
{
    private readonly SqliteConnection _db;

    public MboxIndex(string file)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        _db = SqliteIndexFile.Open(file, """
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS msg(uid INTEGER PRIMARY KEY, key TEXT NOT NULL, offset INTEGER NOT NULL,
              end INTEGER NOT NULL, flags INTEGER NOT NULL, fileflags INTEGER NOT NULL, old INTEGER NOT NULL,
              keywords TEXT NOT NULL, modseq INTEGER NOT NULL, size INTEGER NOT NULL, internaldate INTEGER NOT NULL,
              filekeywords TEXT NOT NULL DEFAULT '');
            CREATE TABLE IF NOT EXISTS expunged(uid INTEGER PRIMARY KEY, modseq INTEGER NOT NULL);
            """);
        using var has = _db.CreateCommand();
        has.CommandText = "SELECT COUNT(*) FROM pragma_table_info('msg') WHERE name = 'filekeywords'";
        if (Convert.ToInt64(has.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
            Exec("ALTER TABLE msg ADD COLUMN filekeywords TEXT NOT NULL DEFAULT ''");
    }

    public sealed record Row(uint Uid, string Key, long Offset, long End, MessageFlags Flags, MessageFlags FileFlags, bool Old,
        string Keywords, string FileKeywords, ulong ModSeq, long Size, long InternalDate);

    /// <summary>uidvalidity, uidnext, highestmodseq, and the file's inode, size and mtime (ns) when last read.</summary>
    public sealed record Meta(uint UidValidity, uint UidNext, ulong HighestModSeq, ulong Inode, long FileSize, long Mtime);

    public Meta ReadMeta()
    {
        var v = new Dictionary<string, long>(StringComparer.Ordinal);
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT key, value FROM meta";
        using var r = cmd.ExecuteReader();
        while (r.Read()) v[r.GetString(0)] = r.GetInt64(1);
        long Get(string k, long d) => v.TryGetValue(k, out long x) ? x : d;
        return new Meta((uint)Get("uidvalidity", 0), (uint)Get("uidnext", 1), (ulong)Get("highestmodseq", 1),
            (ulong)Get("inode", 0), Get("filesize", -1), Get("mtime", 0));
    }

    public List<Row> ReadAll()
    {
        var rows = new List<Row>();
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT uid, key, offset, end, flags, fileflags, old, keywords, filekeywords, modseq, size, internaldate FROM msg ORDER BY uid";
        using var r = cmd.ExecuteReader();
        while (r.Read())
            rows.Add(new Row((uint)r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3), (MessageFlags)r.GetInt32(4),
                (MessageFlags)r.GetInt32(5), r.GetInt32(6) != 0, r.GetString(7), r.GetString(8), (ulong)r.GetInt64(9), r.GetInt64(10),
                r.GetInt64(11)));
        return rows;
    }

    public List<uint> ReadExpungedSince(ulong modSeq)
    {
        var uids = new List<uint>();
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT uid FROM expunged WHERE modseq > $m ORDER BY uid";
        cmd.Parameters.AddWithValue("$m", (long)Math.Min(modSeq, long.MaxValue));
        using var r = cmd.ExecuteReader();
        while (r.Read()) uids.Add((uint)r.GetInt64(0));
        return uids;
    }

    /// <summary>Writes a batch in one transaction; <paramref name="resetAll"/> first forgets every message and
    /// expunge (a new UIDVALIDITY). Deleted UIDs are remembered as expunged at the meta's modseq.</summary>
    public void Commit(Meta meta, IEnumerable<Row> upserts, IEnumerable<uint> deletes, bool resetAll = false)
    {
        using var tx = _db.BeginTransaction();
        if (resetAll) Exec("DELETE FROM msg; DELETE FROM expunged;", tx);
        using (var m = _db.CreateCommand())
        {
            m.Transaction = tx;
            m.CommandText = """
                INSERT OR REPLACE INTO meta(key, value) VALUES ('uidvalidity', $v), ('uidnext', $n), ('highestmodseq', $m),
                  ('inode', $i), ('filesize', $s), ('mtime', $t)
                """;
            m.Parameters.AddWithValue("$v", (long)meta.UidValidity);
            m.Parameters.AddWithValue("$n", (long)meta.UidNext);
            m.Parameters.AddWithValue("$m", (long)meta.HighestModSeq);
            m.Parameters.AddWithValue("$i", unchecked((long)meta.Inode));
            m.Parameters.AddWithValue("$s", meta.FileSize);
            m.Parameters.AddWithValue("$t", meta.Mtime);
            m.ExecuteNonQuery();
        }
        using (var up = _db.CreateCommand())
        {
            up.Transaction = tx;
            up.CommandText = """
                INSERT OR REPLACE INTO msg(uid, key, offset, end, flags, fileflags, old, keywords, filekeywords, modseq, size, internaldate)
                VALUES ($u, $k, $o, $e, $f, $ff, $old, $kw, $fkw, $m, $s, $d)
                """;
            foreach (var row in upserts)
            {
                up.Parameters.Clear();
                up.Parameters.AddWithValue("$u", (long)row.Uid);
                up.Parameters.AddWithValue("$k", row.Key);
                up.Parameters.AddWithValue("$o", row.Offset);
                up.Parameters.AddWithValue("$e", row.End);
                up.Parameters.AddWithValue("$f", (int)row.Flags);
                up.Parameters.AddWithValue("$ff", (int)row.FileFlags);
                up.Parameters.AddWithValue("$old", row.Old ? 1 : 0);
                up.Parameters.AddWithValue("$kw", row.Keywords);
                up.Parameters.AddWithValue("$fkw", row.FileKeywords);
                up.Parameters.AddWithValue("$m", (long)row.ModSeq);
                up.Parameters.AddWithValue("$s", row.Size);
                up.Parameters.AddWithValue("$d", row.InternalDate);
                up.ExecuteNonQuery();
            }
        }
        using (var del = _db.CreateCommand())
        {
            del.Transaction = tx;
            del.CommandText = "DELETE FROM msg WHERE uid = $u; INSERT OR REPLACE INTO expunged(uid, modseq) VALUES ($u, $m)";
            var pu = del.Parameters.Add("$u", SqliteType.Integer);
            del.Parameters.AddWithValue("$m", (long)meta.HighestModSeq);
            foreach (uint uid in deletes)
            {
                pu.Value = (long)uid;
                del.ExecuteNonQuery();
            }
        }
        tx.Commit();
    }

    private void Exec(string sql, SqliteTransaction? tx = null) => SqliteIndexFile.Exec(_db, sql, tx);

    public void Dispose() => _db.Dispose();
}
