using Posthorn.Core;
using Posthorn.Daemon.Tools;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

public class PostsuperTests
{
    private static readonly QueueId A = new("AAAAAA000001"), B = new("BBBBBB000002"), C = new("CCCCCC000003");

    private static async Task<TempQueue> ThreeMessagesAsync()
    {
        var q = new TempQueue();
        await q.EnqueueAsync(A, QueueName.Deferred, "a\n", "s@x.test", "r@x.test");
        await q.EnqueueAsync(B, QueueName.Active, "b\n", "s@x.test", "r@x.test");
        await q.EnqueueAsync(C, QueueName.Hold, "c\n", "s@x.test", "r@x.test");
        DeferLog.Append(q.Dir, A, "r@x.test", EnhancedStatus.Parse("4.4.1"), "refused");
        return q;
    }

    [Fact]
    public async Task Delete_ALL_removes_every_message_and_reports_the_count()
    {
        using var q = await ThreeMessagesAsync();
        Assert.Equal(0, Postsuper.Run(["-d", "ALL"], q.Tool(), q.Root, q.Log));
        Assert.Empty(Directory.GetFiles(q.Root, "*", SearchOption.AllDirectories));
        Assert.Equal("postsuper: Deleted: 3 messages\n", q.Err.ToString());
        Assert.Contains("postfix/postsuper[4242]: AAAAAA000001: removed", q.LogSink.Lines);
        Assert.Contains("postfix/postsuper[4242]: Deleted: 3 messages", q.LogSink.Lines);
    }

    [Fact]
    public async Task Delete_ALL_with_a_queue_name_only_empties_that_queue()
    {
        using var q = await ThreeMessagesAsync();
        Assert.Equal(0, Postsuper.Run(["-d", "ALL", "deferred"], q.Tool(), q.Root, q.Log));
        Assert.False(q.Dir.TryFind(A, out _));
        Assert.True(q.Dir.TryFind(B, out _));
        Assert.True(q.Dir.TryFind(C, out _));
        Assert.Equal("postsuper: Deleted: 1 message\n", q.Err.ToString());
    }

    [Fact]
    public async Task Delete_by_id_and_from_stdin()
    {
        using var q = await ThreeMessagesAsync();
        Assert.Equal(0, Postsuper.Run(["-d", "AAAAAA000001", "-d", "-"], q.Tool("CCCCCC000003\nnot-an-id\n"), q.Root, q.Log));
        Assert.Equal(
            "postsuper: AAAAAA000001: removed\n" +
            "postsuper: CCCCCC000003: removed\n" +
            "postsuper: warning: invalid mail queue id: not-an-id\n" +
            "postsuper: Deleted: 2 messages\n",
            q.Err.ToString());
        Assert.Equal([B], QueueNames.All.SelectMany(n => q.Dir.List(n)));
    }

    [Fact]
    public async Task Hold_release_and_requeue_move_between_queues()
    {
        using var q = await ThreeMessagesAsync();
        Assert.Equal(0, Postsuper.Run(["-h", "ALL"], q.Tool(), q.Root, q.Log));
        Assert.Equal([A, B, C], q.Dir.List(QueueName.Hold));
        Assert.Equal("postsuper: Placed on hold: 2 messages\n", q.Err.ToString());

        Assert.Equal(0, Postsuper.Run(["-H", "BBBBBB000002"], q.Tool(), q.Root, q.Log));
        Assert.Equal([B], q.Dir.List(QueueName.Deferred));

        Assert.Equal(0, Postsuper.Run(["-r", "ALL"], q.Tool(), q.Root, q.Log));
        Assert.Equal([A, B, C], q.Dir.List(QueueName.Incoming));
        Assert.EndsWith("postsuper: Requeued: 3 messages\n", q.Err.ToString());
    }

    [Fact]
    public void Bad_queue_name_and_bad_flag_are_fatal()
    {
        using var q = new TempQueue();
        Assert.Equal(1, Postsuper.Run(["-d", "ALL", "nosuchqueue"], q.Tool(), q.Root));
        Assert.Equal(1, Postsuper.Run(["-z"], q.Tool(), q.Root));
        Assert.StartsWith("postsuper: fatal: invalid directory name: nosuchqueue\n", q.Err.ToString());
    }
}
