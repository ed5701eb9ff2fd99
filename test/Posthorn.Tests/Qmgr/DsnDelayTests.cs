using Posthorn.Mail.Bounce;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Qmgr;

/// <summary>RFC 3461 §4.1 NOTIFY and delay_warning_time: the sender's "Delayed Mail" warning reports only the
/// recipients whose NOTIFY has DELAY or who gave no NOTIFY.</summary>
public sealed class DsnDelayTests
{
    private const string Routes = "transport_maps = inline:{ {far.test=retry:4.4.1 connect to far.test: Connection refused}, " +
        "{back.test=retry:4.0.0 sender side down} }\ndelay_warning_time = 4h\n";

    [Fact]
    public async Task The_warning_names_only_recipients_whose_notify_has_delay_or_is_absent()
    {
        using var h = new QmgrHarness(Routes);
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.FromHours(5),
        [
            new QueueRecipient("failonly@far.test", Notify: DsnNotifyFlags.Failure),
            new QueueRecipient("delayed@far.test", Notify: DsnNotifyFlags.Delay | DsnNotifyFlags.Failure),
            new QueueRecipient("plain@far.test"),
            new QueueRecipient("success@far.test", Notify: DsnNotifyFlags.Success),
        ]);
        h.Start();

        await h.WaitForLineAsync($"{id}: sender delay notification: ");
        await h.WaitIdleAsync();
        var warning = Assert.Single(h.Others(QueueName.Deferred, id), n => n.Envelope.Sender.IsNull);
        string text = QmgrHarness.Content(warning);
        Assert.Contains("Final-Recipient: rfc822; delayed@far.test", text);
        Assert.Contains("Final-Recipient: rfc822; plain@far.test", text);
        Assert.DoesNotContain("failonly@far.test", text);
        Assert.DoesNotContain("success@far.test", text);
    }

    [Theory]
    [InlineData(DsnNotifyFlags.Never)]
    [InlineData(DsnNotifyFlags.Failure)]
    [InlineData(DsnNotifyFlags.Success | DsnNotifyFlags.Failure)]
    public async Task No_warning_when_no_recipient_asked_for_delay(DsnNotifyFlags notify)
    {
        using var h = new QmgrHarness(Routes);
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.FromHours(5), [new QueueRecipient("bob@far.test", Notify: notify)]);
        h.Start();

        await h.WaitForLineAsync($"{id}: to=<bob@far.test>", "status=deferred");
        await h.WaitIdleAsync();
        // The decision is made (the marker is set, so later rounds do not reconsider it), and nothing was sent.
        Assert.True(DelayWarningMarker.Exists(h.Queue, id));
        Assert.Empty(h.Others(QueueName.Deferred, id));
        Assert.DoesNotContain(h.Lines, l => l.Contains("delay notification", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_postmaster_copy_still_lists_every_deferred_recipient()
    {
        using var h = new QmgrHarness(Routes + "notify_classes = delay\ndelay_notice_recipient = pm@back.test\n");
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.FromHours(5), [new QueueRecipient("bob@far.test", Notify: DsnNotifyFlags.Never)]);
        h.Start();

        await h.WaitForLineAsync($"{id}: postmaster delay notification: ");
        await h.WaitIdleAsync();
        var copy = Assert.Single(h.Others(QueueName.Deferred, id));
        Assert.Equal("pm@back.test", copy.Envelope.Recipients[0].Address);
        Assert.Contains("bob@far.test", QmgrHarness.Content(copy));
        Assert.DoesNotContain(h.Lines, l => l.Contains("sender delay notification", StringComparison.Ordinal));
    }

    [Fact]
    public void Notifies_on_delay_follows_rfc_3461()
    {
        Assert.True(DsnWriter.NotifiesOnDelay(new QueueRecipient("a@b.test")));
        Assert.True(DsnWriter.NotifiesOnDelay(new QueueRecipient("a@b.test", Notify: DsnNotifyFlags.Delay)));
        Assert.False(DsnWriter.NotifiesOnDelay(new QueueRecipient("a@b.test", Notify: DsnNotifyFlags.Never)));
        Assert.False(DsnWriter.NotifiesOnDelay(new QueueRecipient("a@b.test", Notify: DsnNotifyFlags.Failure | DsnNotifyFlags.Success)));
    }
}
