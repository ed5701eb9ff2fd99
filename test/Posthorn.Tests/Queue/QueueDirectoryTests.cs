using Posthorn.Core;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

public class QueueDirectoryTests
{
    private static readonly QueueId Id = new("ABCDEF123456");

    [Fact]
    public void EnsureCreated_makes_every_postfix_queue_directory()
    {
        using var q = new TempQueue();
        foreach (string name in (string[])["maildrop", "incoming", "active", "deferred", "hold", "corrupt", "defer", "bounce", "tmp"])
            Assert.True(Directory.Exists(Path.Combine(q.Root, name)), name);
        q.Dir.EnsureCreated();   // idempotent
    }

    [Fact]
    public async Task Move_renames_between_queues_and_TryFind_follows_it()
    {
        using var q = new TempQueue();
        await q.EnqueueAsync(Id, QueueName.Incoming, "x\n", "a@b.test", "c@d.test");
        Assert.True(q.Dir.TryFind(Id, out var where));
        Assert.Equal(QueueName.Incoming, where);

        q.Dir.Move(Id, QueueName.Incoming, QueueName.Active);
        Assert.False(File.Exists(q.Dir.PathOf(QueueName.Incoming, Id)));
        Assert.True(q.Dir.TryFind(Id, out where));
        Assert.Equal(QueueName.Active, where);
        Assert.Throws<FileNotFoundException>(() => q.Dir.Move(Id, QueueName.Incoming, QueueName.Deferred));
    }

    [Fact]
    public async Task Remove_deletes_the_message_and_its_defer_and_bounce_logs()
    {
        using var q = new TempQueue();
        await q.EnqueueAsync(Id, QueueName.Deferred, "x\n", "a@b.test", "c@d.test");
        DeferLog.Append(q.Dir, Id, "c@d.test", EnhancedStatus.Parse("4.4.1"), "connection refused");
        File.WriteAllText(Path.Combine(q.Root, "bounce", Id.Value), "x");

        q.Dir.Remove(Id, QueueName.Deferred);

        Assert.False(q.Dir.TryFind(Id, out _));
        Assert.Empty(Directory.GetFiles(q.Root, "*", SearchOption.AllDirectories));
        q.Dir.Remove(Id, QueueName.Deferred);   // already gone: not an error
    }

    [Fact]
    public async Task List_skips_names_that_are_not_queue_ids()
    {
        using var q = new TempQueue();
        await q.EnqueueAsync(Id, QueueName.Hold, "x\n", "a@b.test", "c@d.test");
        File.WriteAllText(Path.Combine(q.Root, "hold", ".nfs0001"), "");
        File.WriteAllText(Path.Combine(q.Root, "hold", "abcdef123456"), "");
        Assert.Equal([Id], q.Dir.List(QueueName.Hold));
    }

    [Fact]
    public void Directory_handles_cannot_be_opened_with_File_OpenHandle_so_fsync_goes_through_libc()
    {
        using var q = new TempQueue();
        // Why Native.FsyncDirectory exists: .NET refuses to open a directory as a file on Linux.
        Assert.ThrowsAny<Exception>(() => File.OpenHandle(q.Root, FileMode.Open, FileAccess.Read).Dispose());
        Native.FsyncDirectory(q.Root);
        Assert.Throws<IOException>(() => Native.FsyncDirectory(Path.Combine(q.Root, "no-such-dir")));
    }

    [Fact]
    public void Defer_log_keeps_recipient_dsn_and_reason_per_line()
    {
        using var q = new TempQueue();
        Assert.Empty(DeferLog.Read(q.Dir, Id));
        DeferLog.Append(q.Dir, Id, "bob@example.net", EnhancedStatus.Parse("4.4.1"), "connect to mx.example.net[192.0.2.1]:25: Connection refused");
        DeferLog.Append(q.Dir, Id, "carol@example.net", EnhancedStatus.Parse("4.2.2"), "host said: 452 4.2.2\tOver\nquota");

        var entries = DeferLog.ReadEntries(q.Dir, Id);
        Assert.Equal(2, entries.Count);
        Assert.Equal(new DeferLogEntry("bob@example.net", EnhancedStatus.Parse("4.4.1"), "connect to mx.example.net[192.0.2.1]:25: Connection refused"), entries[0]);
        Assert.Equal("host said: 452 4.2.2 Over quota", entries[1].Reason);
        Assert.Equal(("carol@example.net", "host said: 452 4.2.2 Over quota"), DeferLog.Read(q.Dir, Id)[1]);
        DeferLog.Remove(q.Dir, Id);
        Assert.Empty(DeferLog.Read(q.Dir, Id));
    }
}
