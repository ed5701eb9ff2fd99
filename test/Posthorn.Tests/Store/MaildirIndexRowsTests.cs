using Microsoft.Data.Sqlite;
using Posthorn.Store;
using Posthorn.Store.Maildir;
using Xunit;

namespace Posthorn.Tests.Store;

/// <summary>How the index keeps a message's path (without its base name twice), and the repair of a base name that
/// two rows claim.</summary>
public sealed class MaildirIndexRowsTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("posthorn-indexrows-");
    private string Maildir => Path.Combine(_root.FullName, "Maildir");

    public void Dispose() => _root.Delete(recursive: true);

    [Theory]
    [InlineData("1.M2P3.host", "new/1.M2P3.host", "n")]
    [InlineData("1.M2P3.host", "cur/1.M2P3.host:2,", "c:2,")]
    [InlineData("1.M2P3.host", "cur/1.M2P3.host:2,FS", "c:2,FS")]
    [InlineData("1.M2P3.host", "cur/other-name:2,S", "cur/other-name:2,S")]
    [InlineData("1.M2P3.host", "tmp/1.M2P3.host", "tmp/1.M2P3.host")]
    [InlineData("a", "cur/a:2,S/x", "cur/a:2,S/x")]
    public void A_path_is_stored_without_its_base_name_and_read_back_whole(string baseName, string rel, string stored)
    {
        Assert.Equal(stored, MaildirIndex.PackRel(baseName, rel));
        Assert.Equal(rel, MaildirIndex.UnpackRel(baseName, stored));
    }

    [Fact]
    public void Rows_written_with_whole_paths_by_an_earlier_version_read_back_unchanged()
    {
        Directory.CreateDirectory(Maildir);
        using (var index = new MaildirIndex(Maildir))
            index.Commit(1, 3, 5, [new MaildirIndex.Row(1, "1.a", "new/1.a", MessageFlags.None, "", 2, 10, 0)], []);
        using (var db = new SqliteConnection($"Data Source={Path.Combine(Maildir, MaildirIndex.FileName)};Pooling=False"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "INSERT INTO msg VALUES (2, '2.b', 'cur/2.b:2,S', 1, '', 3, 20, 0)";
            cmd.ExecuteNonQuery();
        }
        using var again = new MaildirIndex(Maildir);
        var rows = again.ReadAll();
        Assert.Equal(["new/1.a", "cur/2.b:2,S"], rows.Select(r => r.Rel));
    }

    [Fact]
    public async Task A_base_name_claimed_by_two_rows_keeps_the_lower_uid_and_expunges_the_other()
    {
        foreach (var d in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(Maildir, d));
        File.WriteAllText(Path.Combine(Maildir, "cur", "1.a:2,"), "Subject: a\n\nx\n");
        File.WriteAllText(Path.Combine(Maildir, "cur", "2.b:2,"), "Subject: b\n\nx\n");
        using (var index = new MaildirIndex(Maildir))
        {
            // What two processes scanning the same new file at once could leave behind.
            index.Commit(7, 4, 9,
            [
                new MaildirIndex.Row(1, "1.a", "cur/1.a:2,", MessageFlags.None, "", 2, 14, 0),
                new MaildirIndex.Row(2, "2.b", "cur/2.b:2,", MessageFlags.None, "", 3, 14, 0),
                new MaildirIndex.Row(3, "1.a", "cur/1.a:2,", MessageFlags.None, "", 4, 14, 0),
            ], []);
        }
        await using var box = (await new MaildirStore(TimeProvider.System, "test", 1).OpenAccount("u", Maildir)
            .OpenAsync("INBOX", false, default))!;
        Assert.Equal([1u, 2u], box.Messages.Select(m => m.Uid));
        Assert.Equal([3u], await box.ExpungedSinceAsync(0, default));
    }
}
