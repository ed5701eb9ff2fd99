using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>Relay control (issue 2 step 5): mynetworks may relay anywhere, the outside only to mydestination.</summary>
public sealed partial class SmtpDialogueTests
{
    /// <summary>A mynetworks that does not contain 127.0.0.1: the test client is "outside".</summary>
    private const string OutsideNetworks = "192.0.2.0/24";

    [Fact]
    public async Task Client_inside_mynetworks_may_relay_and_the_message_waits_deferred_in_the_queue()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string token = Token.New();
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync("RCPT TO:<u@elsewhere.example>"), "250 2.1.5 Ok");
        smtp.Expect(await smtp.CommandAsync("DATA"), "354 End data with <CR><LF>.<CR><LF>");
        string id = (await smtp.SendDataAsync(Token.Message(token, "relayed " + token, to: "u@elsewhere.example"))).QueueId
            ?? throw smtp.Fail("no queue id");

        // No outbound SMTP client yet (or no route to elsewhere.example): the message waits.
        string deferred = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<u@elsewhere.example>", StringComparison.Ordinal)
            && l.Contains("status=deferred", StringComparison.Ordinal), $"{id} deferred");
        Assert.Contains("dsn=4.", deferred);

        var mailq = await d.RunToolAsync("mailq");
        Assert.Equal(0, mailq.ExitCode);
        var lines = mailq.Stdout.TrimEnd('\n').Split('\n');
        // Postfix showq format: header, "ID[*!] size date sender", "(reason)", recipient, blank, summary.
        Assert.StartsWith("-Queue ID-", lines[0]);
        var entry = Assert.Single(lines, l => l.StartsWith(id, StringComparison.Ordinal));
        Assert.Contains("alice@sender.example", entry);
        Assert.Contains(lines, l => l.Trim() == "u@elsewhere.example");
        Assert.Matches(@"^-- \d+ Kbytes in 1 Request\.$", lines[^1]);
    }

    [Fact]
    public async Task Client_outside_mynetworks_is_deferred_454_4_7_1_by_default_relay_restrictions()
    {
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default with { Mynetworks = OutsideNetworks }, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        // Postfix ≥ 2.10: smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination
        smtp.Expect(await smtp.CommandAsync("RCPT TO:<u@elsewhere.example>"), "454 4.7.1 <u@elsewhere.example>: Relay access denied");
        // mydestination is still open to the outside.
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "250 2.1.5 Ok");
        smtp.Expect(await smtp.CommandAsync("DATA"), "354 End data with <CR><LF>.<CR><LF>");
        string token = Token.New();
        Assert.NotNull((await smtp.SendDataAsync(Token.Message(token, "from outside " + token))).QueueId);
        await d.WaitForMboxAsync(User, "from outside " + token);
    }

    [Fact]
    public async Task Client_outside_mynetworks_is_rejected_554_5_7_1_by_reject_unauth_destination()
    {
        var cfg = (TestConfig.Default with { Mynetworks = OutsideNetworks })
            .With("smtpd_relay_restrictions", "permit_mynetworks, reject_unauth_destination");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync("RCPT TO:<u@elsewhere.example>"), "554 5.7.1 <u@elsewhere.example>: Relay access denied");
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "250 2.1.5 Ok");
    }
}
