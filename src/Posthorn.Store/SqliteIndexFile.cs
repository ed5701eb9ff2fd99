using Microsoft.Data.Sqlite;

namespace Posthorn.Store;

/// <summary>Opening a store's SQLite index (the Maildir folder index, the mbox INBOX index) the one way both use.</summary>
/// <remarks>Both indexes are caches of what the mail files say plus the UIDs handed out, rebuilt from the files when
/// lost. journal_mode=WAL lets other processes read while one writes; synchronous=NORMAL syncs the WAL at checkpoints,
/// not at every commit: a power loss may take the last commits back, never leave a damaged file (SQLite's WAL
/// guarantee), and the files then give the state again (UIDs handed out since the last checkpoint may be handed out
/// anew for the same messages, which a client sees only if it fetched in that window). The page cache may grow to 32 MiB, so
/// that a first scan's commit of 100,000 rows does not spill pages mid-transaction.</remarks>
internal static class SqliteIndexFile
{
    /// <summary>Opens (creating when missing) the index at <paramref name="file"/> and applies
    /// <paramref name="schema"/>; the connection is closed again when that throws.</summary>
    public static SqliteConnection Open(string file, string schema)
    {
        var db = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = file,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        db.Open();
        try
        {
            Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY;");
            Exec(db, schema);
            return db;
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    public static void Exec(SqliteConnection db, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
