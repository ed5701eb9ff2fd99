using System.Text;
using Posthorn.Core;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Qmgr;

/// <summary>smtpd's hand-off to the queue manager of its own process (QmgrService.TryAdmit): a message that gets an
/// active slot before its commit is published straight into active/ and delivered from there.</summary>
public sealed class QmgrAdmissionTests
{
    // One active slot, so that a slot held or given back is visible to the next TryAdmit; nothing leaves the process.
    private const string OneSlot = "qmgr_message_active_limit = 1\ntransport_maps = inline:{ {gone.test=discard:} }\n";

    [Fact]
    public async Task No_slot_is_given_before_the_loop_runs_nor_after_it_stops()
    {
        using var h = new QmgrHarness(OneSlot);
        Assert.False(h.Qmgr.TryAdmit());   // not started: it has yet to put back what a crash left in active/
        h.Start();
        await Poll.Until(() => TakeAndGiveBack(h.Qmgr), "an admission once the loop runs");
        h.Stop();
        Assert.False(h.Qmgr.TryAdmit());
    }

    [Fact]
    public async Task A_slot_is_held_until_it_is_declined()
    {
        using var h = new QmgrHarness(OneSlot);
        h.Start();
        await Poll.Until(() => h.Qmgr.TryAdmit(), "an admission once the loop runs");
        Assert.False(h.Qmgr.TryAdmit());   // the only slot is taken
        h.Qmgr.Declined();
        Assert.True(h.Qmgr.TryAdmit());
        h.Qmgr.Declined();
    }

    [Fact]
    public async Task An_admitted_message_published_in_active_is_delivered_and_its_slot_comes_back()
    {
        using var h = new QmgrHarness(OneSlot);
        h.Start();
        var id = new QueueId("DDDDDD000004");
        await HandOverAsync(h, id, "Subject: straight in\n\nbody\n", "r@gone.test");

        await h.WaitForLineAsync($"{id}: to=<r@gone.test>", "status=sent");
        await h.WaitForLineAsync($"{id}: removed");
        await Poll.Until(() => TakeAndGiveBack(h.Qmgr), "the slot back after the delivery");
        Assert.False(File.Exists(h.Queue.PathOf(QueueName.Active, id)));
    }

    [Fact]
    public async Task An_admitted_message_deferred_and_returned_in_its_first_round_leaves_no_defer_log_behind()
    {
        // maximal_queue_lifetime = 0: one attempt, then the message is returned; the round wrote a defer log, which the
        // removal must take although the message came straight from smtpd (whose first rounds skip that unlink).
        using var h = new QmgrHarness("qmgr_message_active_limit = 1\nmaximal_queue_lifetime = 0\n"
            + "transport_maps = inline:{ {later.test=retry:4.4.1 try again later}, {example.test=discard:} }\n");
        h.Start();
        var id = new QueueId("DDDDDD000005");
        await HandOverAsync(h, id, "Subject: not now\n\nbody\n", "r@later.test");

        await h.WaitForLineAsync($"{id}: to=<r@later.test>", "status=deferred");
        await h.WaitForLineAsync($"{id}: removed");
        Assert.False(File.Exists(h.Queue.DeferLogPath(id)), "defer log left behind");
        Assert.False(File.Exists(h.Queue.PathOf(QueueName.Active, id)));
        Assert.False(File.Exists(h.Queue.PathOf(QueueName.Deferred, id)));
    }

    /// <summary>smtpd's hand-off: an active slot, the file committed straight into active/ (incoming/ never involved),
    /// then Admitted.</summary>
    private static async Task HandOverAsync(QmgrHarness h, QueueId id, string content, string recipient)
    {
        await Poll.Until(() => h.Qmgr.TryAdmit(), "an admission once the loop runs");
        await using (var writer = QueueFileWriter.Create(h.Queue, id, QueueName.Incoming))
        {
            writer.Target = QueueName.Active;
            await writer.WriteAsync(Encoding.UTF8.GetBytes(content), CancellationToken.None);
            await writer.CommitAsync(new QueueEnvelope(SmtpPath.FromAddress("s@example.test"), [new QueueRecipient(recipient)],
                h.Clock.GetUtcNow()), CancellationToken.None);
            Assert.True(File.Exists(h.Queue.PathOf(QueueName.Active, id)));
        }
        Assert.Equal(0, h.Queue.SyncOf(QueueName.Incoming).FsyncCount);
        h.Qmgr.Admitted(id);
    }

    private static bool TakeAndGiveBack(Posthorn.Daemon.Qmgr.QmgrService qmgr)
    {
        if (!qmgr.TryAdmit()) return false;
        qmgr.Declined();
        return true;
    }
}
