using Posthorn.Store;
using Posthorn.Store.Maildir;
using Xunit;

namespace Posthorn.Tests.Store;

/// <summary>The index remembers expunged UIDs with the modseq of their removal (RFC 7162 §3.2.5.2), across
/// store instances, whoever removed the file.</summary>
public sealed class MaildirExpungedTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("posthorn-expunged-");
    private string Maildir => Path.Combine(_root.FullName, "Maildir");

    public void Dispose() => _root.Delete(recursive: true);

    private void Drop(string name)
    {
        foreach (var d in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(Maildir, d));
        File.WriteAllText(Path.Combine(Maildir, "new", name), $"Subject: {name}\n\nx\n");
    }

    private async Task<IMailbox> OpenAsync() =>
        (await new MaildirStore(TimeProvider.System, "test", 1).OpenAccount("u", Maildir).OpenAsync("INBOX", false, default))!;

    [Fact]
    public async Task Expunges_by_imap_and_by_another_program_are_remembered_with_their_modseq()
    {
        foreach (var n in new[] { "1.a", "2.b", "3.c", "4.d" }) Drop(n);
        ulong start;
        await using (var box = await OpenAsync())
        {
            start = box.HighestModSeq;
            Assert.Empty(await box.ExpungedSinceAsync(0, default));
            await box.StoreFlagsAsync([0], FlagOperation.Add, MessageFlags.Deleted, [], default);
            Assert.Equal([1], await box.ExpungeAsync(null, default));
        }
        ulong afterFirst;
        await using (var box = await OpenAsync())
        {
            afterFirst = box.HighestModSeq;
            Assert.True(afterFirst > start);
            // A reader such as mutt deletes a file: the next sync finds it gone.
            File.Delete(Directory.GetFiles(Path.Combine(Maildir, "cur"), "3.c*").Single());
            Directory.SetLastWriteTimeUtc(Path.Combine(Maildir, "cur"), DateTime.UtcNow.AddSeconds(5));
            var changes = await box.SyncAsync(true, default);
            Assert.Equal([3u], changes.ExpungedUids);
            Assert.Equal([2], changes.Expunged);
        }
        await using var again = await OpenAsync();
        Assert.Equal([1u, 3u], await again.ExpungedSinceAsync(start, default));
        Assert.Equal([3u], await again.ExpungedSinceAsync(afterFirst, default));
        Assert.Empty(await again.ExpungedSinceAsync(again.HighestModSeq, default));
    }

    [Fact]
    public void The_expunged_table_is_bounded_and_an_older_question_gets_a_superset_without_present_uids()
    {
        Directory.CreateDirectory(Maildir);
        using var index = new MaildirIndex(Maildir) { ExpungedLimit = 5 };
        var rows = Enumerable.Range(1, 12).Select(u => new MaildirIndex.Row((uint)u, "b" + u, "cur/b" + u, MessageFlags.None, "", 1, 10, 0)).ToList();
        index.Commit(1, 13, 100, rows, []);
        uint[] gone = [1, 2, 4, 5, 6, 7, 8, 9, 10, 11];   // 3 and 12 stay
        for (int i = 0; i < gone.Length; i++) index.Commit(1, 13, 101 + (ulong)i, [], [gone[i]]);
        bool Present(uint u) => u is 3 or 12;
        // Never more than the limit; the newest stay exact: UIDs 8-11 were expunged at modseqs 107-110.
        Assert.Equal([8u, 9u, 10u, 11u], index.ReadExpungedSince(106, Present));
        Assert.Equal([10u, 11u], index.ReadExpungedSince(108, Present));
        Assert.Empty(index.ReadExpungedSince(110, Present));
        // From before what is kept: every UID up to the highest dropped one that is not in the mailbox (a superset).
        uint[] superset = [1, 2, 4, 5, 6, 7, 8, 9, 10, 11];
        Assert.Equal(superset, index.ReadExpungedSince(103, Present));
        Assert.Equal(superset, index.ReadExpungedSince(0, Present));
    }
}
