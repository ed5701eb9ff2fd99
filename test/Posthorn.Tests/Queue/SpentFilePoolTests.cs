using System.Text;
using Posthorn.Core;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

/// <summary>QueueDirectory.RecycleSpentFiles: removed message files are written again for new messages, never
/// before their removal is durable, and never with a trace of the old message.</summary>
public sealed class SpentFilePoolTests
{
    private static readonly QueueId Old = new("4A1B2C3D4E"), Fresh = new("4A1B2C3D4F"), Reused = new("4A1B2C3D50");

    private static string Tmp(TempQueue q) => Path.Combine(q.Root, "tmp");

    /// <summary>A queue with the pool on and one spent file, ready for reuse (its removal from active/ synced).</summary>
    private static async Task<TempQueue> WithSpentFileAsync(string content = "Subject: x\n\nx\n")
    {
        var q = new TempQueue();
        q.Dir.RecycleSpentFiles();
        await q.EnqueueAsync(Old, QueueName.Active, content, "old@example.test", "a@example.test");
        q.Dir.Remove(Old, QueueName.Active);
        q.Dir.SyncQueue(QueueName.Active);
        return q;
    }

    private static string[] TmpNames(TempQueue q) => Directory.GetFiles(Tmp(q)).Select(Path.GetFileName).Order().ToArray()!;

    [Fact]
    public async Task A_removed_file_waits_in_tmp_until_its_queue_was_synced_and_then_carries_a_new_message_whole()
    {
        using var q = new TempQueue();
        q.Dir.RecycleSpentFiles();
        string big = string.Concat(Enumerable.Repeat("an old line that must not come back\n", 400));
        await q.EnqueueAsync(Old, QueueName.Active, big, "old@example.test", "a@example.test", "b@example.test");
        long oldLength = new FileInfo(q.Dir.PathOf(QueueName.Active, Old)).Length;

        q.Dir.Remove(Old, QueueName.Active);

        Assert.False(File.Exists(q.Dir.PathOf(QueueName.Active, Old)));
        Assert.Equal(["4A1B2C3D4E.spent"], TmpNames(q));
        // active/ was not synced since the removal: a crash could bring the old name back, so the file is not used.
        await q.EnqueueAsync(Fresh, QueueName.Incoming, "Subject: fresh\n\nnew\n", "new@example.test", "c@example.test");
        Assert.Equal(["4A1B2C3D4E.spent"], TmpNames(q));

        q.Dir.SyncQueue(QueueName.Active);
        await q.EnqueueAsync(Reused, QueueName.Incoming, "Subject: fresh\n\nnew\n", "new@example.test", "c@example.test");

        Assert.Empty(TmpNames(q));
        string reusedPath = q.Dir.PathOf(QueueName.Incoming, Reused), freshPath = q.Dir.PathOf(QueueName.Incoming, Fresh);
        // The same message in a new file and in the spent one: the same bytes, none of the old tail.
        Assert.True(new FileInfo(reusedPath).Length < oldLength);
        Assert.Equal(File.ReadAllBytes(freshPath), File.ReadAllBytes(reusedPath));
        var m = QueueFile.Read(reusedPath);
        Assert.Equal(Reused, m.Id);
        Assert.Equal("Subject: fresh\n\nnew\n", TempQueue.ReadContent(m));
        Assert.Equal(["c@example.test"], m.Envelope.Recipients.Select(r => r.Address));
        Assert.DoesNotContain("old line", File.ReadAllText(reusedPath));
    }

    [Fact]
    public async Task A_message_larger_than_the_spent_file_grows_it()
    {
        using var q = await WithSpentFileAsync("Subject: small\n\nx\n");
        string big = string.Concat(Enumerable.Range(0, 5000).Select(i => $"line {i}\n"));

        await q.EnqueueAsync(Reused, QueueName.Incoming, big, "new@example.test", "c@example.test");

        Assert.Empty(TmpNames(q));
        var m = QueueFile.Read(q.Dir.PathOf(QueueName.Incoming, Reused));
        Assert.Equal(big, TempQueue.ReadContent(m));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Content_written_in_pieces_past_the_writers_buffer_is_whole(bool spent)
    {
        using var q = spent ? await WithSpentFileAsync(string.Concat(Enumerable.Repeat("old\n", 60_000))) : new TempQueue();
        byte[] content = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 30_000).Select(i => $"line {i}\n")));
        await using (var writer = QueueFileWriter.Create(q.Dir, Reused, QueueName.Incoming))
        {
            for (int at = 0; at < content.Length; at += 3001)
                await writer.WriteAsync(content.AsMemory(at, Math.Min(3001, content.Length - at)), CancellationToken.None);
            Assert.Equal(content.Length, writer.ContentLength);
            await writer.CommitAsync(new QueueEnvelope(SmtpPath.FromAddress("s@example.test"), [new QueueRecipient("r@example.test")],
                DateTimeOffset.UnixEpoch), CancellationToken.None);
        }

        Assert.Empty(TmpNames(q));   // the spent file, when there was one, carries the message
        var m = QueueFile.Read(q.Dir.PathOf(QueueName.Incoming, Reused));
        Assert.Equal(Encoding.ASCII.GetString(content), TempQueue.ReadContent(m));
        Assert.Equal(["r@example.test"], m.Envelope.Recipients.Select(r => r.Address));
        Assert.DoesNotContain("old", File.ReadAllText(q.Dir.PathOf(QueueName.Incoming, Reused)));
    }

    [Fact]
    public async Task Without_the_pool_a_removed_file_is_deleted()
    {
        using var q = new TempQueue();
        await q.EnqueueAsync(Old, QueueName.Active, "Subject: x\n\nx\n", "old@example.test", "a@example.test");

        q.Dir.Remove(Old, QueueName.Active);

        Assert.False(File.Exists(q.Dir.PathOf(QueueName.Active, Old)));
        Assert.Empty(TmpNames(q));
    }

    [Fact]
    public async Task Spent_files_of_an_earlier_run_are_deleted_when_the_pool_starts_and_are_never_used()
    {
        using var q = new TempQueue();
        File.WriteAllText(Path.Combine(Tmp(q), "0123456789.spent"), "left by a killed daemon");
        File.WriteAllText(Path.Combine(Tmp(q), "0123456789.0a0b0c"), "a writer's temporary file is not the pool's");

        q.Dir.RecycleSpentFiles();
        q.Dir.SyncQueue(QueueName.Active);
        await q.EnqueueAsync(Fresh, QueueName.Incoming, "Subject: x\n\nx\n", "new@example.test", "a@example.test");

        Assert.Equal(["0123456789.0a0b0c"], TmpNames(q));
    }

    [Fact]
    public async Task A_spent_file_deleted_behind_the_pools_back_is_replaced_by_a_new_file()
    {
        using var q = await WithSpentFileAsync();
        File.Delete(Path.Combine(Tmp(q), "4A1B2C3D4E.spent"));

        await q.EnqueueAsync(Reused, QueueName.Incoming, "Subject: y\n\ny\n", "new@example.test", "a@example.test");

        Assert.Equal("Subject: y\n\ny\n", TempQueue.ReadContent(QueueFile.Read(q.Dir.PathOf(QueueName.Incoming, Reused))));
        Assert.Empty(TmpNames(q));
    }

    [Fact]
    public async Task The_pool_is_bounded_and_removals_beyond_it_delete()
    {
        using var q = new TempQueue();
        q.Dir.RecycleSpentFiles();
        const int count = 530;
        var ids = Enumerable.Range(0, count).Select(i => new QueueId($"5B{i:X8}")).ToList();
        foreach (var id in ids) await q.EnqueueAsync(id, QueueName.Active, "Subject: x\n\nx\n", "s@example.test", "a@example.test");

        foreach (var id in ids) q.Dir.Remove(id, QueueName.Active);

        Assert.Empty(Directory.GetFiles(Path.Combine(q.Root, "active")));
        Assert.Equal(512, TmpNames(q).Length);
    }

    [Fact]
    public async Task Only_files_of_active_are_kept_a_maildrop_file_is_deleted()
    {
        using var q = new TempQueue();
        q.Dir.RecycleSpentFiles();
        await q.EnqueueAsync(Old, QueueName.Maildrop, "Subject: x\n\nx\n", "user@example.test", "a@example.test");

        q.Dir.Remove(Old, QueueName.Maildrop);

        Assert.False(File.Exists(q.Dir.PathOf(QueueName.Maildrop, Old)));
        Assert.Empty(TmpNames(q));
    }

    [Fact]
    public async Task A_spent_file_this_process_may_not_write_is_replaced_by_a_new_file()
    {
        using var q = await WithSpentFileAsync();
        // As an ordinary user the open is refused (root may open it anyway and reuse it: both end alike).
        File.SetUnixFileMode(Path.Combine(Tmp(q), "4A1B2C3D4E.spent"), UnixFileMode.None);

        await q.EnqueueAsync(Reused, QueueName.Incoming, "Subject: y\n\ny\n", "new@example.test", "a@example.test");

        Assert.Equal("Subject: y\n\ny\n", TempQueue.ReadContent(QueueFile.Read(q.Dir.PathOf(QueueName.Incoming, Reused))));
        Assert.Empty(TmpNames(q));
    }
}
