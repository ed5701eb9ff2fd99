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
}
