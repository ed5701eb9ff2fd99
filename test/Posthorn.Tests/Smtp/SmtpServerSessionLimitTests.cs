using Xunit;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Posthorn.Logging;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>Line length, NUL, error limits, smtpd_timeout, shutdown, and a real TCP connection.</summary>
public class SmtpServerSessionLimitTests
{
    [Fact]
    public async Task Overlong_command_is_truncated_at_the_limit_the_rest_skipped_and_logged()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { LineLengthLimit = 64 });
        await h.CommandAsync("HELO c");
        // Sent in pieces, so that the server never has the whole line at once.
        await h.SendAsync("MAIL FROM:<" + new string('a', 100));
        await h.SendAsync(new string('a', 5000));
        await h.SendAsync("@example.com>\r\nNOOP\r\n");
        // What is left of "MAIL FROM:<aaa…" has no closing bracket.
        Assert.Equal("501 5.1.7 Bad sender address syntax", await h.ReadReplyAsync());
        Assert.Equal("250 2.0.0 Ok", await h.ReadReplyAsync());   // back in step
        Assert.Contains("postfix/smtpd[4242]: warning: localhost[127.0.0.1]: request longer than 64: MAIL FROM:<aaaaaaaaaaaaaaaaaaa...", h.Log);
    }

    [Fact]
    public async Task Command_at_the_limit_is_whole()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { LineLengthLimit = 30 });
        await h.CommandAsync("HELO c");
        string mail = "MAIL FROM:<abcdefghijk@ex.com>";
        Assert.Equal(30, mail.Length);
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync(mail));
        Assert.DoesNotContain(h.Log, l => l.Contains("request longer"));
    }

    [Fact]
    public async Task Nul_in_a_command_is_bad_syntax()
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.SendAsync("HELO a\0b\r\n");
        Assert.Equal("500 5.5.2 Error: bad syntax", await h.ReadReplyAsync());
        Assert.Equal("250 mail.example.test", await h.CommandAsync("HELO ok"));
    }

    [Fact]
    public async Task Hard_error_limit_ends_the_session_with_421()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { HardErrorLimit = 3 });
        await h.SendAsync("FOO\r\nBAR\r\nRCPT TO:<a@b>\r\nNOOP\r\n");
        Assert.Equal("500 5.5.2 Error: command not recognized", await h.ReadReplyAsync());
        Assert.Equal("500 5.5.2 Error: command not recognized", await h.ReadReplyAsync());
        Assert.Equal("503 5.5.1 Error: need MAIL command", await h.ReadReplyAsync());
        Assert.Equal("421 4.7.0 mail.example.test Error: too many errors", await h.ReadReplyAsync());
        Assert.True(await h.ServerClosedAsync());
        await h.FinishAsync();
        Assert.Contains("postfix/smtpd[4242]: too many errors after RCPT from localhost[127.0.0.1]", h.Log);
        Assert.Equal("postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] rcpt=0/1 unknown=0/2 commands=0/3", h.Log[^1]);
    }

    [Fact]
    public async Task Past_smtpd_junk_command_limit_each_junk_command_counts_as_an_error()
    {
        // Postfix smtpd_junk_command_limit: NOOP, VRFY, ETRN and RSET beyond the limit each add an error, so the
        // hard error limit ends a client that only idles on junk.
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { JunkCommandLimit = 2, HardErrorLimit = 2 });
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("NOOP"));
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("RSET"));
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("NOOP"));   // the third: one error
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("NOOP"));   // the fourth: two errors
        Assert.Equal("421 4.7.0 mail.example.test Error: too many errors", await h.CommandAsync("HELO c"));
        Assert.True(await h.ServerClosedAsync());
    }

    [Fact]
    public async Task Other_commands_are_not_junk()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { JunkCommandLimit = 1, HardErrorLimit = 1 });
        for (int i = 0; i < 5; i++) Assert.StartsWith("250 ", await h.CommandAsync("HELO c"));
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task A_delivered_message_forgives_junk_commands_too()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { JunkCommandLimit = 1, HardErrorLimit = 2 });
        await h.CommandAsync("HELO c");
        for (int round = 0; round < 3; round++)
        {
            // RSET as a caching client sends it before each reuse: one junk, never two in a row without a delivery.
            Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("RSET"));
            Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("RSET"));   // over the limit: one error
            await h.CommandAsync("MAIL FROM:<a@example.com>");
            await h.CommandAsync("RCPT TO:<b@example.com>");
            await h.CommandAsync("DATA");
            Assert.StartsWith("250 2.0.0 Ok: queued as", await h.CommandAsync("."));
        }
    }

    [Fact]
    public void The_error_limits_and_junk_limit_come_from_main_cf()
    {
        var cfg = Posthorn.Tests.Config.TestConfig.Load("smtpd_error_sleep_time = 7s\nsmtpd_junk_command_limit = 5\nsmtpd_soft_error_limit = 3\n");
        var options = Posthorn.Daemon.Master.Settings.SmtpdOptions(cfg);
        Assert.Equal(TimeSpan.FromSeconds(7), options.ErrorSleepTime);
        Assert.Equal(5, options.JunkCommandLimit);
        Assert.Equal(3, options.SoftErrorLimit);
    }

    [Fact]
    public async Task A_delivered_message_forgives_earlier_errors()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { HardErrorLimit = 2 });
        Assert.Equal("500 5.5.2 Error: command not recognized", await h.CommandAsync("FOO"));
        await h.CommandAsync("HELO c");
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        await h.CommandAsync("RCPT TO:<b@example.com>");
        await h.CommandAsync("DATA");
        Assert.StartsWith("250 2.0.0 Ok: queued as", await h.CommandAsync("."));
        Assert.Equal("500 5.5.2 Error: command not recognized", await h.CommandAsync("FOO"));
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("NOOP"));   // one error, not two
    }

    [Fact]
    public async Task Idle_client_gets_421_after_smtpd_timeout()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { Timeout = TimeSpan.FromMilliseconds(200) });
        Assert.Equal("421 4.4.2 mail.example.test Error: timeout exceeded", await h.ReadReplyAsync());
        Assert.True(await h.ServerClosedAsync());
        await h.FinishAsync();
        Assert.Contains("postfix/smtpd[4242]: timeout after CONNECT from localhost[127.0.0.1]", h.Log);
        Assert.Equal("postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] commands=0", h.Log[^1]);
    }

    [Fact]
    public async Task Timeout_in_data_drops_the_message()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { Timeout = TimeSpan.FromSeconds(2) });
        await h.SendAsync("HELO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nabc\r\n");
        for (int i = 0; i < 4; i++) await h.ReadReplyAsync();
        Assert.Equal("421 4.4.2 mail.example.test Error: timeout exceeded", await h.ReadReplyAsync());
        await h.FinishAsync();
        Assert.True(h.Sink.Writers[0].Disposed);
        Assert.False(h.Sink.Writers[0].Committed);
        Assert.Contains("postfix/smtpd[4242]: timeout after DATA (5 bytes) from localhost[127.0.0.1]", h.Log);
    }

    [Fact]
    public async Task Shutdown_says_421_and_closes()
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO c");
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        await h.CommandAsync("RCPT TO:<b@example.com>");
        h.Shutdown();
        Assert.Equal("421 4.3.2 mail.example.test Service shutting down", await h.ReadReplyAsync());
        Assert.True(await h.ServerClosedAsync());
        await h.FinishAsync();
        Assert.True(h.Sink.Writers[0].Disposed);
        Assert.StartsWith("postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 commands=3", h.Log[^1]);
    }

    [Fact]
    public async Task Client_that_connects_and_leaves_is_logged_as_lost_after_connect()
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.DisconnectAsync();
        await h.FinishAsync();
        Assert.Equal(
        [
            "postfix/smtpd[4242]: connect from localhost[127.0.0.1]",
            "postfix/smtpd[4242]: lost connection after CONNECT from localhost[127.0.0.1]",
            "postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] commands=0",
        ], h.Log);
    }

    [Fact]
    public async Task Whole_transaction_over_loopback_tcp()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var accepted = await listener.AcceptTcpClientAsync();
        var sink = new RecordingSink();
        var logSink = new MemoryLogSink();
        var clock = new FixedClock(SmtpHarness.Now);
        var info = new SmtpSessionInfo { Client = (IPEndPoint)accepted.Client.RemoteEndPoint!, ClientName = "localhost" };
        var session = new SmtpServerSession(accepted.GetStream(), info, SmtpHarness.DefaultOptions, sink,
            new MailLog(logSink, "postfix", "mail.example.test", clock, 7), clock);
        var run = session.RunAsync(CancellationToken.None);

        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        async Task<string> Say(string line)
        {
            if (line.Length > 0) await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"));
            return (await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20)))!;
        }
        Assert.Equal("220 mail.example.test ESMTP Posthorn", await Say(""));
        Assert.Equal("250 mail.example.test", await Say("HELO client.example"));
        Assert.Equal("250 2.1.0 Ok", await Say("MAIL FROM:<alice@example.com>"));
        Assert.Equal("250 2.1.5 Ok", await Say("RCPT TO:<bob@example.com>"));
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await Say("DATA"));
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await Say("Subject: hi\r\n\r\nbody\r\n."));
        Assert.Equal("221 2.0.0 Bye", await Say("QUIT"));
        Assert.Null(await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        await run.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("Received: from client.example (localhost [127.0.0.1])\n\tby mail.example.test (Posthorn) with SMTP id 4D2C1B0A00\n" +
            "\tfor <bob@example.com>; Wed, 25 Nov 2026 13:17:08 +0000 (UTC)\nSubject: hi\n\nbody\n", sink.Writers[0].Content);
        Assert.Equal("postfix/smtpd[7]: disconnect from localhost[127.0.0.1] helo=1 mail=1 rcpt=1 data=1 quit=1 commands=5", logSink.Lines[^1]);
    }
}
