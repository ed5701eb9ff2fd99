using Posthorn.Core;
using Posthorn.Daemon.Qmgr;
using Posthorn.Logging;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Queue;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Qmgr;

/// <summary>qmgr(8)/bounce(8) non-delivery policy: maximal_queue_lifetime and bounce_queue_lifetime, soft_bounce,
/// delay_warning_time, double bounces and notify_classes. The message's age comes from the arrival time written in
/// its queue file against a fixed clock, so nothing depends on timing.</summary>
public sealed class NonDeliveryPolicyTests
{
    // far.test defers (retry:), closed.test bounces (error:), back.test (the senders) defers so notices stay queued.
    private const string Routes = "transport_maps = inline:{ {far.test=retry:4.4.1 connect to far.test: Connection refused}, " +
        "{closed.test=error:5.7.1 closed for business}, {back.test=retry:4.0.0 sender side down} }\n";

    [Fact]
    public async Task A_deferred_message_older_than_maximal_queue_lifetime_is_returned_with_its_deferral_reason_and_removed()
    {
        using var h = new QmgrHarness(Routes + "maximal_queue_lifetime = 5d\n");
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.FromDays(5) + TimeSpan.FromMinutes(1), "bob@far.test");
        h.Start();

        await h.WaitForLineAsync($"{id}: from=<alice@back.test>, status=expired, returned to sender");
        string notified = await h.WaitForLineAsync($"{id}: sender non-delivery notification: ");
        await h.WaitForLineAsync($"{id}: removed");
        await h.WaitIdleAsync();
        Assert.False(h.Queue.TryFind(id, out _));
        var notice = Assert.Single(h.Others(QueueName.Deferred, id));
        Assert.EndsWith(notice.Id.Value, notified);
        Assert.True(notice.Envelope.Sender.IsNull);
        Assert.Equal("alice@back.test", notice.Envelope.Recipients[0].Address);
        string text = QmgrHarness.Content(notice);
        Assert.Contains("Undelivered Mail Returned to Sender", text);
        // Postfix defer_flush(): the last deferral reason and its 4.X.X status, reported as failed.
        Assert.Contains("Action: failed", text);
        Assert.Contains("Status: 4.4.1", text);
        Assert.Contains("connect to far.test: Connection refused", text);
    }

    [Fact]
    public async Task A_younger_deferred_message_stays_deferred_without_any_notice()
    {
        using var h = new QmgrHarness(Routes + "maximal_queue_lifetime = 5d\n");
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.FromDays(4), "bob@far.test");
        h.Start();

        await h.WaitForLineAsync($"{id}: to=<bob@far.test>", "status=deferred");
        await h.WaitIdleAsync();
        Assert.True(h.Queue.TryFind(id, out var where));
        Assert.Equal(QueueName.Deferred, where);
        Assert.Empty(h.Others(QueueName.Deferred, id));
        Assert.DoesNotContain(h.Lines, l => l.Contains("expired", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Maximal_queue_lifetime_zero_tries_once_then_returns_the_message()
    {
        using var h = new QmgrHarness(Routes + "maximal_queue_lifetime = 0\n");
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.Zero, "bob@far.test");
        h.Start();

        await h.WaitForLineAsync($"{id}: from=<alice@back.test>, status=expired, returned to sender");
        await h.WaitForLineAsync($"{id}: removed");
    }

    [Fact]
    public async Task An_expired_bounce_follows_bounce_queue_lifetime_and_is_dropped_without_a_bounce_of_a_bounce()
    {
        using var h = new QmgrHarness(Routes + "maximal_queue_lifetime = 5d\nbounce_queue_lifetime = 1h\n");
        var id = await h.EnqueueAsync("", TimeSpan.FromHours(2), "alice@far.test");
        h.Start();

        await h.WaitForLineAsync($"{id}: from=<>, status=expired, returned to sender");
        await h.WaitForLineAsync($"{id}: undeliverable mail with null sender: no non-delivery notification");
        await h.WaitForLineAsync($"{id}: removed");
        await h.WaitIdleAsync();
        Assert.Empty(h.Others(QueueName.Deferred, id));
    }

    [Fact]
    public async Task With_2bounce_in_notify_classes_an_undeliverable_bounce_goes_to_2bounce_notice_recipient_headers_only()
    {
        using var h = new QmgrHarness(Routes + "notify_classes = 2bounce\n2bounce_notice_recipient = pm@back.test\n");
        var id = await h.EnqueueAsync("", TimeSpan.Zero, "x@closed.test");
        h.Start();

        string line = await h.WaitForLineAsync($"{id}: postmaster non-delivery notification: ");
        await h.WaitForLineAsync($"{id}: removed");
        await h.WaitIdleAsync();
        var notice = Assert.Single(h.Others(QueueName.Deferred, id));
        Assert.EndsWith(notice.Id.Value, line);
        Assert.Equal("double-bounce@mail.example.test", notice.Envelope.Sender.ToString());
        Assert.Equal("pm@back.test", notice.Envelope.Recipients[0].Address);
        string text = QmgrHarness.Content(notice);
        Assert.Contains("Subject: Postmaster Copy: Undelivered Mail", text);
        Assert.Contains("<x@closed.test>: closed for business", text);
        Assert.Contains("text/rfc822-headers", text);
        Assert.DoesNotContain("I'm sorry to have to inform you", text);   // no boiler-plate in postmaster copies
        Assert.DoesNotContain("\nbody\n", text);                          // headers only
    }

    [Fact]
    public async Task A_failed_postmaster_notice_is_discarded_never_a_triple_bounce()
    {
        using var h = new QmgrHarness(Routes + "notify_classes = bounce, 2bounce\n");
        var id = await h.EnqueueAsync("double-bounce@mail.example.test", TimeSpan.Zero, "x@closed.test");
        h.Start();

        await h.WaitForLineAsync($"warning: {id}: undeliverable postmaster notification discarded");
        await h.WaitForLineAsync($"{id}: removed");
        await h.WaitIdleAsync();
        Assert.Empty(h.Queue.List(QueueName.Deferred));
        Assert.Empty(h.Queue.List(QueueName.Incoming));
    }

    [Fact]
    public async Task Bounce_in_notify_classes_sends_the_postmaster_a_headers_only_copy_besides_the_senders_notice()
    {
        using var h = new QmgrHarness(Routes + "notify_classes = bounce\nbounce_notice_recipient = pm@back.test\n");
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.Zero, "x@closed.test");
        h.Start();

        await h.WaitForLineAsync($"{id}: sender non-delivery notification: ");
        await h.WaitForLineAsync($"{id}: postmaster non-delivery notification: ");
        await h.WaitIdleAsync();
        var notices = h.Others(QueueName.Deferred, id);
        Assert.Equal(2, notices.Count);
        var copy = Assert.Single(notices, n => n.Envelope.Recipients[0].Address == "pm@back.test");
        Assert.Equal("double-bounce@mail.example.test", copy.Envelope.Sender.ToString());
        Assert.Contains("Postmaster Copy: Undelivered Mail", QmgrHarness.Content(copy));
        Assert.Single(notices, n => n.Envelope.Sender.IsNull && n.Envelope.Recipients[0].Address == "alice@back.test");
    }

    [Fact]
    public async Task Soft_bounce_turns_a_permanent_failure_into_a_deferral_logged_as_SOFTBOUNCE()
    {
        using var h = new QmgrHarness(Routes + "soft_bounce = yes\n");
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.Zero, "x@closed.test");
        h.Start();

        string line = await h.WaitForLineAsync($"{id}: to=<x@closed.test>");
        Assert.Contains("dsn=4.7.1, status=SOFTBOUNCE (closed for business)", line);
        await h.WaitIdleAsync();
        Assert.True(h.Queue.TryFind(id, out var where));
        Assert.Equal(QueueName.Deferred, where);
        var entry = Assert.Single(DeferLog.ReadEntries(h.Queue, id));
        Assert.Equal("4.7.1", entry.Dsn.ToString());
        Assert.Equal("closed for business", entry.Reason);
        Assert.Empty(h.Others(QueueName.Deferred, id));   // no notice to the sender
    }

    [Fact]
    public async Task Delay_warning_is_sent_once_with_action_delayed_and_a_postmaster_copy_for_the_delay_class()
    {
        using var h = new QmgrHarness(Routes + "delay_warning_time = 4h\nnotify_classes = delay\ndelay_notice_recipient = pm@back.test\n");
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.FromHours(5), "bob@far.test");
        h.Start();

        string line = await h.WaitForLineAsync($"{id}: sender delay notification: ");
        await h.WaitForLineAsync($"{id}: postmaster delay notification: ");
        await h.WaitIdleAsync();
        Assert.True(DelayWarningMarker.Exists(h.Queue, id));
        var notices = h.Others(QueueName.Deferred, id);
        var warning = Assert.Single(notices, n => n.Envelope.Sender.IsNull);
        Assert.EndsWith(warning.Id.Value, line);
        string text = QmgrHarness.Content(warning);
        Assert.Contains("Subject: Delayed Mail (still being retried)", text);
        Assert.Contains("THIS IS A WARNING ONLY", text);
        Assert.Contains("more than 4 hour(s)", text);
        Assert.Contains("Action: delayed", text);
        Assert.Contains("Status: 4.4.1", text);
        Assert.Contains("Will-Retry-Until:", text);
        var copy = Assert.Single(notices, n => n.Envelope.Recipients[0].Address == "pm@back.test");
        Assert.Contains("Postmaster Warning: Delayed Mail", QmgrHarness.Content(copy));

        // The next attempt (postqueue -f) defers again but does not warn again.
        h.Qmgr.Flush();
        await WaitForCountAsync(h, $"{id}: to=<bob@far.test>", 2);
        await h.WaitIdleAsync();
        Assert.Single(h.Lines, l => l.Contains($"{id}: sender delay notification", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_delay_marker_goes_with_the_message_when_it_expires()
    {
        using var h = new QmgrHarness(Routes + "delay_warning_time = 1h\nmaximal_queue_lifetime = 1d\n");
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.FromHours(2), "bob@far.test");
        h.Start();
        await h.WaitForLineAsync($"{id}: sender delay notification: ");
        await h.WaitIdleAsync();
        Assert.True(DelayWarningMarker.Exists(h.Queue, id));

        h.Clock.Now += TimeSpan.FromDays(1);
        h.Qmgr.Flush();
        await h.WaitForLineAsync($"{id}: from=<alice@back.test>, status=expired, returned to sender");
        await h.WaitForLineAsync($"{id}: removed");
        Assert.False(DelayWarningMarker.Exists(h.Queue, id));
    }

    [Theory]
    [InlineData("resource, software", false, false, false, true, true)]
    [InlineData("bounce", true, true, false, false, false)]
    [InlineData("2bounce", false, true, false, false, false)]
    [InlineData("Delay, 2BOUNCE, Software", false, true, true, false, true)]
    public void Notify_classes_bounce_implies_2bounce(string value, bool bounce, bool doubleBounce, bool delay, bool resource, bool software)
    {
        var cfg = TestConfig.Load($"notify_classes = {value}\n");
        Assert.Equal(new NotifyClasses(bounce, doubleBounce, delay, resource, software), NotifyClasses.From(cfg));
    }

    [Fact]
    public void Lifetime_and_warning_edges()
    {
        var arrival = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var cfg = TestConfig.Load("maximal_queue_lifetime = 2d\nbounce_queue_lifetime = 3h\n");
        Assert.Equal(TimeSpan.FromDays(2), QmgrService.LifetimeOf(SmtpPath.FromAddress("a@b.test"), cfg));
        Assert.Equal(TimeSpan.FromHours(3), QmgrService.LifetimeOf(SmtpPath.Null, cfg));
        Assert.False(QmgrService.IsExpired(arrival, TimeSpan.FromDays(2), arrival.AddDays(2).AddTicks(-1)));
        Assert.True(QmgrService.IsExpired(arrival, TimeSpan.FromDays(2), arrival.AddDays(2)));
        Assert.False(QmgrService.IsWarningDue(arrival, TimeSpan.Zero, arrival.AddYears(1)));   // 0 disables
        Assert.False(QmgrService.IsWarningDue(arrival, TimeSpan.FromHours(4), arrival.AddHours(4).AddSeconds(-2)));
        Assert.True(QmgrService.IsWarningDue(arrival, TimeSpan.FromHours(4), arrival.AddHours(4).AddSeconds(-1)));
    }

    [Fact]
    public void A_soft_bounce_record_keeps_the_text_and_turns_the_class_to_4()
    {
        var r = new DeliveryRecord("x@y.test", null, "none", default, EnhancedStatus.Parse("5.1.1"), DeliveryOutcome.Bounced, "unknown user");
        var soft = QmgrService.AsSoftBounce(r);
        Assert.Equal("4.1.1", soft.Dsn.ToString());
        Assert.Equal(DeliveryOutcome.Deferred, soft.Status);
        Assert.Equal("unknown user", soft.Text);
    }

    private static async Task WaitForCountAsync(QmgrHarness h, string part, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (h.Lines.Count(l => l.Contains(part, StringComparison.Ordinal)) < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"fewer than {count} lines with {part}:\n{string.Join("\n", h.Lines)}");
            await Task.Delay(20);
        }
    }
}
