using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a client asks for delivery status notifications (RFC 3461) and writes UTF-8
/// addresses (RFC 6531); the real daemon keeps the requests in the queue file and reports as asked.</summary>
public sealed class SmtpdDsnTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    [Fact]
    public async Task Notify_success_gets_a_delivered_to_mailbox_notice_back_to_the_sender()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        var ehlo = await smtp.CommandAsync("EHLO client.example");
        Assert.Contains("DSN", ehlo.Texts);
        Assert.Contains("SMTPUTF8", ehlo.Texts);
        string token = Token.New();
        // The sender is the local user too, so the notice lands in the same mbox.
        smtp.Expect(await smtp.CommandAsync($"MAIL FROM:<{LocalRcpt}> RET=HDRS ENVID=env+2B{token}"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{LocalRcpt}"), "250 2.1.5 Ok");
        smtp.Expect(await smtp.CommandAsync("DATA"), 354);
        smtp.Expect(await smtp.SendDataAsync(Token.Message(token, "asked for a notice " + token)), 250);
        smtp.Expect(await smtp.CommandAsync("QUIT"), "221 2.0.0 Bye");

        await d.WaitForMboxAsync(User, "asked for a notice " + token);
        // The notice carries the ENVID (decoded) and says where the message went.
        var mbox = await d.WaitForMboxAsync(User, $"Original-Envelope-Id: env+{token}");
        var notice = Assert.Single(mbox, m => m.Body.Contains($"env+{token}", StringComparison.Ordinal));
        Assert.Equal("Successful Mail Delivery Report", notice.Header("Subject"));
        Assert.Contains($"<{LocalRcpt}>: delivered to mailbox", notice.Body);
        Assert.Contains("Action: delivered", notice.Body);
        Assert.Contains($"Original-Recipient: rfc822;{LocalRcpt}", notice.Body);
        await d.WaitForLogAsync("sender delivery status notification");
    }

    [Fact]
    public async Task A_utf8_address_needs_smtputf8_and_the_received_header_says_so()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<jörg@sender.example>"), "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<jörg@sender.example> SMTPUTF8"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "250 2.1.5 Ok");
        smtp.Expect(await smtp.CommandAsync("DATA"), 354);
        string token = Token.New();
        smtp.Expect(await smtp.SendDataAsync(Token.Message(token, "grüße " + token, from: "Jörg <jörg@sender.example>")), 250);
        var messages = await d.WaitForMboxAsync(User, "grüße " + token);
        var m = Assert.Single(messages, x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Contains("with UTF8SMTP id", m.Header("Received"));
    }
}
