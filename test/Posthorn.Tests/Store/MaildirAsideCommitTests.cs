using Posthorn.Store;
using Posthorn.Store.Maildir;
using Xunit;

namespace Posthorn.Tests.Store;

/// <summary>A scan that finds many new files reserves their UIDs in the index at once and commits their rows on
/// another thread (MaildirFolder.Aside.cs): nothing is lost or given twice, whether the rows land or not.</summary>
public sealed class MaildirAsideCommitTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("posthorn-aside-");
    private string Maildir => Path.Combine(_root.FullName, "Maildir");

    public void Dispose() => _root.Delete(recursive: true);

    private string[] Fill(int count, int first = 0)
    {
        foreach (var d in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(Maildir, d));
        var bases = new string[count];
        for (int i = 0; i < count; i++)
        {
            bases[i] = $"{1_700_000_000 + first + i}.M{i}P7.host";
            File.WriteAllText(Path.Combine(Maildir, "cur", bases[i] + ":2,"), $"Subject: {first + i}\n\nbody\n");
        }
        return bases;
    }

    [Fact]
    public void A_large_first_scan_reserves_its_uids_at_once_and_its_rows_are_all_in_the_index_after()
    {
        string[] bases = Fill(MaildirFolder.AsideRows + 200);
        uint validity;
        using (var folder = new MaildirFolder(Maildir, TimeProvider.System))
        {
            folder.Sync();
            validity = folder.UidValidity;
            Assert.Equal(bases, folder.Snapshot.Select(m => m.Key));
            Assert.Equal(Enumerable.Range(1, bases.Length).Select(i => (uint)i), folder.Snapshot.Select(m => m.Uid));
            // What another process reads while the rows may still be on their way: UIDNEXT is past them already.
            using (var other = new MaildirIndex(Maildir))
                Assert.Equal((validity, (uint)bases.Length + 1), (other.ReadMeta().UidValidity, other.ReadMeta().UidNext));
            // The index in use again: the rows are in before anything reads or writes it.
            Assert.Empty(folder.ExpungedSince(0));
            folder.Remove([folder.ByUid(3)!]);
        }

        using var index = new MaildirIndex(Maildir);
        var rows = index.ReadAll();
        Assert.Equal(bases.Where((_, i) => i != 2), rows.Select(r => r.Base));
        Assert.Equal(Enumerable.Range(1, bases.Length).Where(i => i != 3).Select(i => (uint)i), rows.Select(r => r.Uid));
        Assert.All(rows, r => Assert.StartsWith("cur/", r.Rel));
        Assert.Equal([3u], index.ReadExpungedSince(0, _ => false));
    }

    [Fact]
    public void Files_whose_rows_never_landed_get_uids_above_the_reserved_ones_under_the_same_uidvalidity()
    {
        string[] bases = Fill(5);
        // The index a crash leaves between the reservation and the rows: UIDNEXT past UIDs that no row holds.
        using (var index = new MaildirIndex(Maildir))
            index.Commit(4242, 2001, 9, [], []);

        using var folder = new MaildirFolder(Maildir, TimeProvider.System);
        folder.Sync();

        Assert.Equal(4242u, folder.UidValidity);
        Assert.Equal(bases, folder.Snapshot.Select(m => m.Key));
        Assert.Equal([2001u, 2002u, 2003u, 2004u, 2005u], folder.Snapshot.Select(m => m.Uid));
        Assert.Equal(2006u, folder.UidNext);
    }

    [Fact]
    public void Files_delivered_after_a_large_scan_are_numbered_after_it_in_the_same_index()
    {
        string[] first = Fill(MaildirFolder.AsideRows);
        using (var folder = new MaildirFolder(Maildir, TimeProvider.System))
        {
            folder.Sync();
            string[] more = Fill(3, first.Length);
            // A later scan (new mtime of cur/) runs while the first scan's rows may still be committing.
            Directory.SetLastWriteTimeUtc(Path.Combine(Maildir, "cur"), DateTime.UtcNow.AddSeconds(5));
            folder.Sync();
            Assert.Equal(first.Concat(more), folder.Snapshot.Select(m => m.Key));
        }
        using var reopened = new MaildirFolder(Maildir, TimeProvider.System);
        reopened.Sync();
        Assert.Equal(Enumerable.Range(1, first.Length + 3).Select(i => (uint)i), reopened.Snapshot.Select(m => m.Uid));
    }
}
