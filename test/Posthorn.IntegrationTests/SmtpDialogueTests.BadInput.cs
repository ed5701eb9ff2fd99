using System.Text;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>Bad or unusual input gets a clear reply, loses nothing, and the daemon keeps serving.</summary>
public sealed partial class SmtpDialogueTests
{
    [Fact]
    public async Task Message_over_message_size_limit_gets_552_5_3_4_and_leaves_no_queue_file()
    {
        var cfg = TestConfig.Default.With("message_size_limit", "2000");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var smtp = await d.ConnectAsync();
        Assert.Contains("SIZE 2000", (await smtp.CommandAsync("EHLO client.example")).Texts);

        // RFC 1870 §6.2: a declared SIZE over the limit is refused at MAIL already.
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example> SIZE=3000"), "552 5.3.4 Message size exceeds fixed limit");

        // Undeclared: the limit is enforced while the data streams in.
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "250 2.1.5 Ok");
        smtp.Expect(await smtp.CommandAsync("DATA"), "354 End data with <CR><LF>.<CR><LF>");
        string big = string.Join("\n", Enumerable.Range(0, 60).Select(i => $"line {i:D3} " + new string('x', 60)));
        smtp.Expect(await smtp.SendDataAsync(Token.Message("too big", big)), "552 5.3.4 Error: message file too big"); // Postfix: cleanup's verdict during DATA
        Assert.Empty(d.QueueFiles());

        // The session goes on: a small message is still accepted.
        string token = Token.New();
        await smtp.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message(token, "small " + token));
        smtp.Expect(await smtp.CommandAsync("QUIT"), "221 2.0.0 Bye");
        await d.WaitForMboxAsync(User, "small " + token);
    }

    [Fact]
    public async Task Client_dropping_mid_data_queues_nothing_and_the_daemon_keeps_serving()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using (var dropper = await d.ConnectAsync())
        {
            await dropper.CommandAsync("EHLO client.example");
            // A non-local recipient: had anything been queued, it would wait in the queue (deferred).
            dropper.Expect(await dropper.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
            dropper.Expect(await dropper.CommandAsync("RCPT TO:<u@elsewhere.example>"), "250 2.1.5 Ok");
            dropper.Expect(await dropper.CommandAsync("DATA"), "354 End data with <CR><LF>.<CR><LF>");
            await dropper.SendRawAsync("Subject: half\r\n\r\nthe first half of a message\r\n");
            dropper.Abort();
        }
        // Postfix smtpd: "lost connection after DATA (N bytes) from host[addr]".
        await d.WaitForLogAsync("lost connection after DATA");
        Assert.Empty(d.QueueFiles());
        var mailq = await d.RunToolAsync("mailq");
        Assert.Contains("Mail queue is empty", mailq.Output);

        await using var next = await d.ConnectAsync();
        Assert.StartsWith("220 ", next.Greeting!.Last);
        await next.CommandAsync("EHLO client.example");
        string token = Token.New();
        await next.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message(token, "after the drop " + token));
        await d.WaitForMboxAsync(User, "after the drop " + token);
    }

    [Fact]
    public async Task Bare_LF_lines_from_mynetworks_are_accepted_as_nc_sends_them()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        smtp.LineEnding = "\n";   // what `nc 127.0.0.1 PORT` sends when the user types
        string token = Token.New();
        Assert.Equal(250, (await smtp.CommandAsync("HELO client.example")).Code);
        await smtp.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message(token, $"typed into nc {token}\nsecond line"));
        var messages = await d.WaitForMboxAsync(User, "typed into nc " + token);
        var m = Assert.Single(messages, x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Equal(token, m.Header("Subject"));
        Assert.Equal([$"typed into nc {token}", "second line"], m.BodyLines);
    }

    [Fact]
    public async Task Dot_stuffing_is_undone()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string token = Token.New();
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "250 2.1.5 Ok");
        smtp.Expect(await smtp.CommandAsync("DATA"), "354 End data with <CR><LF>.<CR><LF>");
        // RFC 5321 §4.5.2: the client doubles a leading dot; the server removes one. Sent unstuffed by us on purpose.
        var queued = await smtp.SendDataAsync(Token.Message(token, $"first {token}\n..x\n..\n...three"), stuff: false);
        Assert.NotNull(queued.QueueId);
        var messages = await d.WaitForMboxAsync(User, "first " + token);
        var m = Assert.Single(messages, x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Equal([$"first {token}", ".x", ".", "..three"], m.BodyLines);
    }

    [Fact]
    public async Task Nul_byte_in_a_command_gets_a_5xx_and_the_session_goes_on()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.SendRawAsync(Encoding.ASCII.GetBytes("EHLO cli\0ent.example\r\n"));
        var reply = await smtp.ReadReplyAsync();
        Assert.True(reply.IsPermanentFailure, $"NUL in a command: expected 5xx, got {reply}");
        smtp.Expect(await smtp.CommandAsync("NOOP"), "250 2.0.0 Ok");
    }

    [Fact]
    public async Task Overlong_command_line_gets_one_5xx_and_the_session_goes_on()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        // 5000 bytes, over Postfix line_length_limit (2048) and RFC 5321 §4.5.3.1.4's 512.
        var reply = await smtp.CommandAsync("XYZZY " + new string('a', 5000));
        Assert.True(reply.IsPermanentFailure, $"overlong line: expected 5xx, got {reply}");
        // Exactly one reply for the one line: the rest of it must not be read as further commands.
        smtp.Expect(await smtp.CommandAsync("NOOP"), "250 2.0.0 Ok");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
    }

    [Fact]
    public async Task Long_body_line_is_delivered_intact()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string token = Token.New();
        string longLine = token + new string('y', 5000);
        await smtp.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message(token, longLine));
        var messages = await d.WaitForMboxAsync(User, longLine);
        Assert.Contains(longLine, Assert.Single(messages, x => x.Body.Contains(token, StringComparison.Ordinal)).BodyLines);
    }
}
