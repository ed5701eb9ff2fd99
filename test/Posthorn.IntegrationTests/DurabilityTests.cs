using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: an acknowledged message survives a crash (issue 2 step 6, DESIGN.md decision 3).</summary>
/// <remarks>kill -9 leaves the daemon no chance to flush anything: only what was on disk before the
/// 250 counts.</remarks>
public sealed class DurabilityTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;

    [Fact]
    public async Task Message_acknowledged_before_kill_9_is_still_queued_after_restart()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync("alice@sender.example", "u@elsewhere.example", Token.Message("durable", "must survive", to: "u@elsewhere.example"));
            await d.KillHardAsync();   // right after the 250, session still open
        }
        var offline = await d.RunToolAsync("mailq");
        Assert.Contains(offline.Stdout.Split('\n'), l => l.StartsWith(id, StringComparison.Ordinal));

        await d.StartAsync();
        var online = await d.RunToolAsync("mailq");
        Assert.True(online.ExitCode == 0, online.ToString());
        Assert.Contains(online.Stdout.Split('\n'), l => l.StartsWith(id, StringComparison.Ordinal));
        Assert.Contains("u@elsewhere.example", online.Stdout);
    }

    [Fact]
    public async Task Local_message_acknowledged_before_kill_9_is_delivered_after_restart()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string token = Token.New();
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            await smtp.SendMailAsync("alice@sender.example", $"{User}@{TestConfig.Myhostname}", Token.Message(token, "survivor " + token));
            await d.KillHardAsync();
        }
        await d.StartAsync();
        // Delivered at least once (DESIGN.md allows a duplicate after a crash, never a loss).
        var messages = await d.WaitForMboxAsync(User, "survivor " + token);
        Assert.Contains(messages, m => m.Body.Contains("survivor " + token, StringComparison.Ordinal));
        await Wait.UntilAsync(() => d.QueueFiles().Count == 0, DaemonProcess.DeliveryTimeout, "the queue to drain after delivery", d.Diagnostics);
    }

    [Fact]
    public async Task Kill_9_in_the_middle_of_DATA_leaves_no_message_behind()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
            smtp.Expect(await smtp.CommandAsync("RCPT TO:<u@elsewhere.example>"), "250 2.1.5 Ok");
            smtp.Expect(await smtp.CommandAsync("DATA"), "354 End data with <CR><LF>.<CR><LF>");
            await smtp.SendRawAsync("Subject: half\r\n\r\n" + string.Concat(Enumerable.Repeat("partial line of a message\r\n", 200)));
            // Whether or not the daemon has read these bytes yet, a half-received message must never
            // become visible as a queued message.
            await d.KillHardAsync();
        }
        await d.StartAsync();
        var mailq = await d.RunToolAsync("mailq");
        Assert.Equal("Mail queue is empty\n", mailq.Stdout);
    }
}
