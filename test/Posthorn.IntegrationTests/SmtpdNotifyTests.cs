using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the administrator sets <c>notify_classes = protocol, policy</c> to see what a misbehaving client
/// did, and the postmaster gets the session transcript by mail, as Postfix's smtpd sends it.</summary>
/// <remarks>postconf(5) notify_classes, error_notice_recipient, smtpd_history_flush_threshold; Postfix
/// smtpd_chat_notify.</remarks>
public sealed class SmtpdNotifyTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    [Fact]
    public async Task A_protocol_error_mails_the_session_transcript_to_error_notice_recipient()
    {
        var cfg = TestConfig.Default
            .With("notify_classes", "protocol, policy")
            .With("error_notice_recipient", LocalRcpt)
            .With("smtpd_sender_restrictions", "check_sender_access inline:{ {blocked.test=REJECT no thanks} }");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        await using (var c = await d.ConnectAsync())
        {
            c.Expect(await c.CommandAsync($"EHLO {token}.example"), 250);
            c.Expect(await c.CommandAsync("FROBNICATE now"), 500);
            c.Expect(await c.CommandAsync("MAIL FROM:<someone@blocked.test>"), 250);
            c.Expect(await c.CommandAsync($"RCPT TO:<{LocalRcpt}>"), 554);   // smtpd_delay_reject: the sender check waits for RCPT
            c.Expect(await c.CommandAsync("QUIT"), 221);
        }
        var mbox = await d.WaitForMboxAsync(User, token);
        var notice = Assert.Single(mbox, m => m.Body.Contains(token, StringComparison.Ordinal));
        Assert.Equal("Posthorn SMTP server: errors from localhost[127.0.0.1]", notice.Header("Subject"));
        Assert.Contains("MAILER-DAEMON@", notice.Header("From"));
        Assert.Contains("Transcript of session follows.", notice.Body);
        Assert.Contains($" In:  EHLO {token}.example", notice.Body);
        Assert.Contains(" In:  FROBNICATE now", notice.Body);
        Assert.Contains(" Out: 500 5.5.2 Error: command not recognized", notice.Body);
        Assert.Contains(" Out: 554 5.7.1 <someone@blocked.test>: Sender address rejected: no thanks", notice.Body);
        Assert.Contains("For other details, see the local mail logfile", notice.Body);
        // From the double-bounce address, so that the notice itself can never bounce.
        await d.WaitForLogAsync(l => l.Contains($"from=<double-bounce@{TestConfig.Myhostname}>", StringComparison.Ordinal), "notice sender");
    }

    [Fact]
    public async Task Without_protocol_in_notify_classes_a_protocol_error_sends_nothing()
    {
        var cfg = TestConfig.Default.With("error_notice_recipient", LocalRcpt);   // default: resource, software
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        await using (var c = await d.ConnectAsync())
        {
            c.Expect(await c.CommandAsync($"EHLO {token}.example"), 250);
            c.Expect(await c.CommandAsync("FROBNICATE now"), 500);
            c.Expect(await c.CommandAsync("QUIT"), 221);
        }
        // A message sent after the session proves delivery works; no notice came before it.
        await using (var c = await d.ConnectAsync())
        {
            await c.CommandAsync("EHLO client.example");
            await c.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message(token, "marker " + token));
        }
        var mbox = await d.WaitForMboxAsync(User, "marker " + token);
        Assert.DoesNotContain(mbox, m => m.Header("Subject")?.Contains("errors from", StringComparison.Ordinal) == true);
    }
}
