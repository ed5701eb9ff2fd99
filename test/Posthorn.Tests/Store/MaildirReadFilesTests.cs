using Microsoft.Data.Sqlite;
using Posthorn.Store;
using Posthorn.Store.Maildir;
using Xunit;

namespace Posthorn.Tests.Store;

/// <summary>The bulk read of message files (<see cref="MaildirFolder.ReadFiles"/>) and the prepared statement the index
/// writes its rows with (<see cref="SqliteStatement"/>).</summary>
public sealed class MaildirReadFilesTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-readfiles-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void Files_across_several_read_ahead_groups_come_back_whole_with_their_times_and_gone_ones_are_listed()
    {
        var paths = new string?[150];
        for (int i = 0; i < paths.Length; i++)
        {
            if (i == 5) continue;   // no path: skipped, neither read nor gone
            paths[i] = Path.Combine(_dir.FullName, $"m{i}");
            if (i is 70 or 149) continue;   // a path whose file is gone
            File.WriteAllText(paths[i]!, new string((char)('a' + i % 26), i * 37));
            File.SetLastWriteTimeUtc(paths[i]!, new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(i));
        }
        var data = new byte[]?[paths.Length];
        var modified = new DateTime[paths.Length];
        var gone = new List<int>();

        MaildirFolder.ReadFiles(paths, data, modified, gone);

        Assert.Equal([70, 149], gone);
        for (int i = 0; i < paths.Length; i++)
        {
            if (i is 5 or 70 or 149)
            {
                Assert.Null(data[i]);
                continue;
            }
            Assert.Equal(File.ReadAllBytes(paths[i]!), data[i]);
            Assert.Equal(new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(i), modified[i]);
        }
    }

    [Fact]
    public void A_path_that_cannot_be_read_for_another_reason_than_being_gone_throws()
    {
        // A directory opens read-only but does not read (EISDIR), for root as for anyone.
        string[] paths = [Path.Combine(_dir.FullName, "file"), _dir.FullName];
        File.WriteAllText(paths[0], "x");
        Assert.Throws<IOException>(() => MaildirFolder.ReadFiles(paths, new byte[]?[2], new DateTime[2], []));
    }

    [Fact]
    public void A_statement_runs_many_times_inside_the_open_transaction_and_reports_sqlite_errors()
    {
        using var db = new SqliteConnection($"Data Source={Path.Combine(_dir.FullName, "t.sqlite")};Pooling=False");
        db.Open();
        SqliteIndexFile.Exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB)");
        using (var tx = db.BeginTransaction())
        {
            using var insert = new SqliteStatement(db, "INSERT INTO t(id, name, data) VALUES (?1, ?2, ?3)");
            for (int i = 0; i < 3; i++) insert.Bind(1, i).Bind(2, $"n{i}").Bind(3, new byte[] { (byte)i, 9 }).Run();
            // The same id again: a constraint error, as SqliteException, and the statement stays usable.
            var error = Assert.Throws<SqliteException>(() => insert.Bind(1, 1).Bind(2, "again").Bind(3, []).Run());
            Assert.Equal(19 /* SQLITE_CONSTRAINT */, error.SqliteErrorCode);
            insert.Bind(1, 3).Bind(2, "n3").Bind(3, [3]).Run();
            tx.Commit();
        }
        using var read = db.CreateCommand();
        read.CommandText = "SELECT group_concat(id || name || hex(data), ',') FROM t";
        Assert.Equal("0n00009,1n10109,2n20209,3n303", read.ExecuteScalar());
        Assert.Throws<SqliteException>(() => new SqliteStatement(db, "INSERT INTO nowhere VALUES (1)"));
    }
}
