using System.Text.RegularExpressions;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: talk SMTP by hand (<c>nc 127.0.0.1 2525</c>) and get Postfix's replies, word for word.</summary>
/// <remarks>Issue 2 steps 4 and 5 (dialogue, relay control) and "bad input gets a clear reply".
/// Texts are Postfix smtpd(8)'s; RFC 5321 §4.2 for the reply shape.</remarks>
public sealed partial class SmtpDialogueTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    [Fact]
    public async Task Greeting_is_220_with_myhostname_and_ESMTP()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        // Postfix smtpd_banner default: $myhostname ESMTP $mail_name
        Assert.Single(smtp.Greeting!.Lines);
        Assert.StartsWith("220 mail.example.test ESMTP", smtp.Greeting.Last);
    }

    [Fact]
    public async Task Ehlo_advertises_pipelining_size_8bitmime_and_enhanced_status_codes()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        var ehlo = await smtp.CommandAsync("EHLO client.example");
        Assert.Equal(250, ehlo.Code);
        Assert.Equal("250-mail.example.test", ehlo.Lines[0]);
        var keywords = ehlo.Texts.Skip(1).ToList();
        Assert.Contains("PIPELINING", keywords);
        Assert.Contains("SIZE 10240000", keywords);   // RFC 1870; Postfix message_size_limit default
        Assert.Contains("8BITMIME", keywords);
        Assert.Contains("ENHANCEDSTATUSCODES", keywords);
        Assert.All(ehlo.Lines.SkipLast(1), l => Assert.StartsWith("250-", l));
        Assert.StartsWith("250 ", ehlo.Last);
    }

    [Fact]
    public async Task Full_transaction_gets_Postfix_replies_and_a_queue_id()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        Assert.Equal(250, (await smtp.CommandAsync("EHLO client.example")).Code);
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "250 2.1.5 Ok");
        smtp.Expect(await smtp.CommandAsync("DATA"), "354 End data with <CR><LF>.<CR><LF>");
        var queued = await smtp.SendDataAsync(Token.Message("hello", "body"));
        Assert.Matches(new Regex("^250 2\\.0\\.0 Ok: queued as [0-9A-F]{10,}$"), queued.Last);
        smtp.Expect(await smtp.CommandAsync("QUIT"), "221 2.0.0 Bye");
        Assert.True(await smtp.IsClosedByServerAsync(), "the server must close the connection after QUIT");
    }

    [Fact]
    public async Task Helo_noop_rset_and_vrfy_answer_as_Postfix()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        smtp.Expect(await smtp.CommandAsync("HELO client.example"), "250 mail.example.test");
        smtp.Expect(await smtp.CommandAsync("NOOP"), "250 2.0.0 Ok");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync("RSET"), "250 2.0.0 Ok");
        // After RSET the transaction is gone: RCPT needs a new MAIL.
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "503 5.5.1 Error: need MAIL command");
        // Postfix with disable_vrfy_command = no: "252 2.0.0 <address>" for a deliverable local address.
        var vrfy = await smtp.CommandAsync($"VRFY <{LocalRcpt}>");
        Assert.StartsWith("252 2.0.0 ", vrfy.Last);
        Assert.Contains(LocalRcpt, vrfy.Last);
        // VRFY runs the RCPT checks (Postfix smtpd vrfy_cmd → smtpd_check_rcpt).
        Assert.StartsWith("550 5.1.1 ", (await smtp.CommandAsync("VRFY <nobody1@mail.example.test>")).Last);
    }

    [Fact]
    public async Task Rcpt_before_mail_gets_503_5_5_1()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "503 5.5.1 Error: need MAIL command");
    }

    [Fact]
    public async Task Unknown_command_gets_500_5_5_2_and_the_session_goes_on()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        smtp.Expect(await smtp.CommandAsync("FOO bar"), "500 5.5.2 Error: command not recognized");
        smtp.Expect(await smtp.CommandAsync("NOOP"), "250 2.0.0 Ok");
    }

    [Fact]
    public async Task Data_without_recipients_is_refused()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        // Postfix smtpd data_cmd: outside a transaction "need RCPT", inside one "no valid recipients".
        smtp.Expect(await smtp.CommandAsync("DATA"), "503 5.5.1 Error: need RCPT command");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync("DATA"), "554 5.5.1 Error: no valid recipients");
    }

    [Fact]
    public async Task Bad_sender_address_gets_501_5_1_7()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        // Two addresses where RFC 5321 §4.1.2 allows one Reverse-path.
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<a@b.example,c@d.example>"), "501 5.1.7 Bad sender address syntax");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
    }

    [Fact]
    public async Task Unknown_local_user_is_rejected_at_rcpt_with_550_5_1_1()
    {
        Assert.Null(await Unix.UidOfAsync("nobody1"));   // the premise: no such account
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        // Postfix local_recipient_maps default (passwd + aliases).
        smtp.Expect(await smtp.CommandAsync("RCPT TO:<nobody1@mail.example.test>"),
            "550 5.1.1 <nobody1@mail.example.test>: Recipient address rejected: User unknown in local recipient table");
        smtp.Expect(await smtp.CommandAsync("DATA"), "554 5.5.1 Error: no valid recipients");
    }

    [Fact]
    public async Task Second_master_cf_row_with_o_smtpd_banner_greets_with_its_own_banner()
    {
        var cfg = TestConfig.Default with { SecondListenerBanner = "second-listener.example.test" };
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var first = await d.ConnectAsync();
        await using var second = await d.ConnectAsync(d.SecondSmtpPort);
        Assert.StartsWith("220 mail.example.test ESMTP", first.Greeting!.Last);
        Assert.Equal("220 second-listener.example.test", second.Greeting!.Last);
    }

    [Fact]
    public async Task Pipelined_commands_get_their_replies_in_order()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        // RFC 2920 §3.1: MAIL, RCPT… and DATA may go in one batch; DATA ends it.
        await smtp.SendRawAsync(
            $"MAIL FROM:<alice@sender.example>\r\nRCPT TO:<{LocalRcpt}>\r\nRCPT TO:<nobody1@mail.example.test>\r\nDATA\r\n");
        smtp.Expect(await smtp.ReadReplyAsync(), "250 2.1.0 Ok");
        smtp.Expect(await smtp.ReadReplyAsync(), "250 2.1.5 Ok");
        Assert.Equal(550, (await smtp.ReadReplyAsync()).Code);
        smtp.Expect(await smtp.ReadReplyAsync(), "354 End data with <CR><LF>.<CR><LF>");
        string token = Token.New();
        var queued = await smtp.SendDataAsync(Token.Message(token, "pipelined " + token));
        Assert.NotNull(queued.QueueId);
        await smtp.SendRawAsync("RSET\r\nNOOP\r\nQUIT\r\n");
        smtp.Expect(await smtp.ReadReplyAsync(), "250 2.0.0 Ok");
        smtp.Expect(await smtp.ReadReplyAsync(), "250 2.0.0 Ok");
        smtp.Expect(await smtp.ReadReplyAsync(), "221 2.0.0 Bye");
        await d.WaitForMboxAsync(User, "pipelined " + token);
    }
}
