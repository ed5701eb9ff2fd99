using Posthorn.Core;
using Posthorn.Daemon.Tools;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Queue;
using Posthorn.Tests.Queue;
using Xunit;

namespace Posthorn.Tests.Qmgr;

/// <summary>What goes with a message when it leaves the queue, and how a corrupt queue file is reported.</summary>
public sealed class QueueHousekeepingTests
{
    [Fact]
    public async Task Postsuper_delete_removes_the_delay_warning_marker_with_the_message()
    {
        using var q = new TempQueue();
        var id = new QueueId("AAAAAA000001");
        var other = new QueueId("BBBBBB000002");
        await q.EnqueueAsync(id, QueueName.Deferred, "a\n", "s@x.test", "r@x.test");
        await q.EnqueueAsync(other, QueueName.Deferred, "b\n", "s@x.test", "r@x.test");
        DelayWarningMarker.Set(q.Dir, id);
        DelayWarningMarker.Set(q.Dir, other);

        Assert.Equal(0, Postsuper.Run(["-d", id.Value], q.Tool(), q.Root, q.Log));
        Assert.False(DelayWarningMarker.Exists(q.Dir, id));
        Assert.True(DelayWarningMarker.Exists(q.Dir, other));   // only the deleted message's marker goes
    }

    [Fact]
    public async Task A_corrupt_queue_file_is_reported_once_as_postfix_qmgr_does_and_saved()
    {
        using var h = new QmgrHarness("");
        var id = new QueueId("CCCCCC000003");
        string path = h.Queue.PathOf(QueueName.Incoming, id);
        await File.WriteAllTextAsync(path, "this is not a queue file at all\n");
        h.Start();

        string first = await h.WaitForLineAsync($"{id}: corrupt queue file: ");
        string second = await h.WaitForLineAsync($"saving corrupt file \"{id}\" from queue \"active\" to queue \"corrupt\"");
        await h.WaitIdleAsync();
        Assert.True(File.Exists(h.Queue.PathOf(QueueName.Corrupt, id)));
        Assert.Contains("postfix/qmgr[", first);
        Assert.Contains("warning: ", second);
        // The reason is said once, without the file's path.
        Assert.Equal(2, first.Split("corrupt queue file").Length);
        Assert.DoesNotContain(h.Queue.Root, first);
    }
}
