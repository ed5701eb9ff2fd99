using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: mail that cannot be delivered comes back to its sender the way Postfix returns it —
/// after maximal_queue_lifetime for a destination that never answers — and <c>soft_bounce = yes</c> keeps
/// permanent failures in the queue, visible with mailq, instead of bouncing them.</summary>
/// <remarks>Postfix qmgr(8) (status=expired, returned to sender), bounce(8), postconf(5) soft_bounce. The dead
/// next hop is <c>[127.0.0.1]:PORT</c> with nothing listening (the kit's DNS goes to a dead port).</remarks>
public sealed class BounceTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    [Fact]
    public async Task Mail_to_an_unreachable_next_hop_expires_after_maximal_queue_lifetime_and_returns_to_the_local_sender()
    {
        int deadPort = FreePort.Next();
        var cfg = TestConfig.Default
            .With("transport_maps", $"inline:{{ dead.test=smtp:[127.0.0.1]:{deadPort} }}")
            .With("maximal_queue_lifetime", "1s");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync(LocalRcpt, "x@dead.test", Token.Message(token, "never arrives " + token, to: "x@dead.test"));
        }

        // First attempt: the connection is refused and the recipient deferred.
        string deferred = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<x@dead.test>", StringComparison.Ordinal), $"{id} deferred");
        Assert.Contains("status=deferred", deferred);
        Assert.Contains("Connection refused", deferred);
        // Once the message is older than its lifetime, the next attempt (postqueue -f) returns it. If the first
        // round already outlived 1s on a slow machine, it was returned then; the outcome is the same.
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        var flush = await d.RunToolAsync("postqueue", "-f");
        Assert.Equal(0, flush.ExitCode);
        await d.WaitForLogAsync($"{id}: from=<{LocalRcpt}>, status=expired, returned to sender");
        await d.WaitForLogAsync(l => l.Contains($"{id}: sender non-delivery notification: ", StringComparison.Ordinal), $"{id} notice");
        await d.WaitForLogAsync($"{id}: removed");

        var mbox = await d.WaitForMboxAsync(User, token);
        var notice = Assert.Single(mbox, m => m.Body.Contains("Undelivered Mail Returned to Sender", StringComparison.Ordinal)
            || m.Body.Contains("X-Postfix-Queue-ID: " + id, StringComparison.Ordinal));
        Assert.Contains("Connection refused", notice.Body);
        Assert.Contains("Action: failed", notice.Body);
        Assert.Contains("Final-Recipient: rfc822; x@dead.test", notice.Body);
        var mailq = await d.RunToolAsync("mailq");
        Assert.DoesNotContain(id, mailq.Stdout);
    }

    [Fact]
    public async Task Soft_bounce_keeps_an_error_transport_failure_deferred_and_mailq_shows_the_reason()
    {
        var cfg = TestConfig.Default
            .With("transport_maps", "inline:{ {closed.test=error:5.7.1 closed for business} }")
            .With("soft_bounce", "yes");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync(LocalRcpt, "x@closed.test", Token.Message(token, "kept " + token, to: "x@closed.test"));
        }

        string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<x@closed.test>", StringComparison.Ordinal), $"{id} soft bounce");
        Assert.Contains("postfix/error[", line);
        Assert.Contains("dsn=4.7.1, status=SOFTBOUNCE (closed for business)", line);
        await Wait.UntilAsync(() => File.Exists(Path.Combine(d.QueueDirectory, "deferred", id)), DaemonProcess.DeliveryTimeout,
            $"{id} in deferred/", d.Diagnostics);

        var mailq = await d.RunToolAsync("mailq");
        Assert.Contains(id, mailq.Stdout);
        Assert.Contains("(closed for business)", mailq.Stdout);
        Assert.Contains("x@closed.test", mailq.Stdout);
        // No notice went to the sender.
        Assert.DoesNotContain(d.MaillogLines(), l => l.Contains($"{id}: sender non-delivery notification", StringComparison.Ordinal));
    }
}
