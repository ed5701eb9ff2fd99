using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

public sealed class SmtpTransportTests
{
    private static readonly QueueId Id = new("ABCDEF123456");
    private readonly ListLogSink _sink = new();

    private SmtpTransport Transport(SmtpClientOptions? options = null) =>
        new(options ?? new SmtpClientOptions { HeloName = "client.test", ConnectTimeout = TimeSpan.FromSeconds(5) },
            new NextHopResolver(new NoDnsResolver(), new HostLookupOptions(), new Random(1)),
            new MailLog(_sink, "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System);

    private static OutboundMessage Message(string content, string sender = "alice@client.test")
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        return new OutboundMessage(Id, SmtpPath.FromAddress(sender), bytes.Length, () => new MemoryStream(bytes));
    }

    private static NextHop Hop(int port) => new("127.0.0.1", port, SkipMx: true);

    private static List<OutboundRecipient> Rcpts(params string[] a) => [.. a.Select(x => new OutboundRecipient(x))];

    [Fact]
    public async Task Pipelined_dialogue_sends_crlf_dot_stuffed_content_and_maps_250_to_sent()
    {
        await using var server = new LoopbackSmtpServer();
        var result = await Transport().DeliverAsync(Hop(server.Port),
            Message("Subject: hi\n\n.leading dot\nplain\n."), Rcpts("bob@remote.test", "carol@remote.test"), CancellationToken.None);

        Assert.Equal(["EHLO client.test", "MAIL FROM:<alice@client.test> SIZE=33", "RCPT TO:<bob@remote.test>", "RCPT TO:<carol@remote.test>", "DATA", "QUIT"],
            server.Commands);
        // RFC 2920: MAIL, both RCPTs and DATA came in one read.
        Assert.Equal(4, server.CommandsPerRead[1]);
        Assert.Equal("Subject: hi\r\n\r\n..leading dot\r\nplain\r\n..\r\n.\r\n", Encoding.UTF8.GetString(server.Messages.Single()));
        Assert.All(result.Recipients, r =>
        {
            Assert.Equal(DeliveryOutcome.Sent, r.Outcome);
            Assert.Equal("250 2.0.0 Ok: queued as ABC123", r.Text);
            Assert.Equal($"127.0.0.1[127.0.0.1]:{server.Port}", r.Relay);
            Assert.Equal("2.0.0", r.Dsn.ToString());
        });
    }

    [Fact]
    public async Task Without_pipelining_commands_go_one_at_a_time_and_8bit_content_says_BODY_8BITMIME()
    {
        await using var server = new LoopbackSmtpServer(c => LoopbackSmtpServer.Verb(c) == "EHLO"
            ? "250-mx.test\r\n250 8BITMIME" : LoopbackSmtpServer.DefaultReply(c));
        var result = await Transport().DeliverAsync(Hop(server.Port), Message("Subject: caf\u00e9\n\nbody\n"), Rcpts("bob@remote.test"), CancellationToken.None);

        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.Equal("MAIL FROM:<alice@client.test> BODY=8BITMIME", server.Commands[1]);
        Assert.All(server.CommandsPerRead, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task Ehlo_refused_falls_back_to_helo()
    {
        await using var server = new LoopbackSmtpServer(c => LoopbackSmtpServer.Verb(c) == "EHLO"
            ? "502 5.5.2 Error: command not recognized" : LoopbackSmtpServer.DefaultReply(c));
        var result = await Transport().DeliverAsync(Hop(server.Port), Message("a\n"), Rcpts("bob@remote.test"), CancellationToken.None);

        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.Equal(["EHLO client.test", "HELO client.test", "MAIL FROM:<alice@client.test>", "RCPT TO:<bob@remote.test>", "DATA", "QUIT"], server.Commands);
    }

    [Fact]
    public async Task Rcpt_5xx_bounces_that_recipient_4xx_defers_and_the_rest_is_sent()
    {
        await using var server = new LoopbackSmtpServer(c => c switch
        {
            "RCPT TO:<nouser@remote.test>" => "550 5.1.1 <nouser@remote.test>: Recipient address rejected: User unknown in local recipient table",
            "RCPT TO:<later@remote.test>" => "450 4.2.0 <later@remote.test>: Recipient address rejected: Greylisted",
            _ => LoopbackSmtpServer.DefaultReply(c),
        });
        var result = await Transport().DeliverAsync(Hop(server.Port), Message("a\n"),
            Rcpts("nouser@remote.test", "later@remote.test", "bob@remote.test"), CancellationToken.None);

        var (bounced, deferred, sent) = (result.Recipients[0], result.Recipients[1], result.Recipients[2]);
        Assert.Equal(DeliveryOutcome.Bounced, bounced.Outcome);
        Assert.Equal("5.1.1", bounced.Dsn.ToString());
        Assert.Equal("host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nouser@remote.test>: Recipient address rejected: " +
            "User unknown in local recipient table (in reply to RCPT TO command)", bounced.Text);
        Assert.Equal(DeliveryOutcome.Deferred, deferred.Outcome);
        Assert.Equal("4.2.0", deferred.Dsn.ToString());
        Assert.EndsWith("Greylisted (in reply to RCPT TO command)", deferred.Text);
        Assert.Equal(DeliveryOutcome.Sent, sent.Outcome);
        Assert.Single(server.Messages);
    }

    [Fact]
    public async Task Mail_from_5xx_bounces_everyone_and_sends_no_content()
    {
        await using var server = new LoopbackSmtpServer(c => LoopbackSmtpServer.Verb(c) switch
        {
            "MAIL" => "553 5.7.1 <alice@client.test>: Sender address rejected: Access denied",
            "RCPT" => "503 5.5.1 Error: need MAIL command",
            "DATA" => "503 5.5.1 Error: need RCPT command",
            _ => LoopbackSmtpServer.DefaultReply(c),
        });
        var result = await Transport().DeliverAsync(Hop(server.Port), Message("a\n"), Rcpts("a@remote.test", "b@remote.test"), CancellationToken.None);

        Assert.All(result.Recipients, r =>
        {
            Assert.Equal(DeliveryOutcome.Bounced, r.Outcome);
            Assert.Equal("5.7.1", r.Dsn.ToString());
            Assert.EndsWith("Access denied (in reply to MAIL FROM command)", r.Text);
        });
        Assert.Empty(server.Messages);
    }

    [Theory]
    [InlineData("554 5.7.1 Message rejected as spam", DeliveryOutcome.Bounced, "5.7.1")]
    [InlineData("451 4.3.0 Error: queue file write error", DeliveryOutcome.Deferred, "4.3.0")]
    [InlineData("452 Insufficient system storage", DeliveryOutcome.Deferred, "4.0.0")]
    public async Task End_of_data_reply_decides_for_every_accepted_recipient(string reply, DeliveryOutcome outcome, string dsn)
    {
        await using var server = new LoopbackSmtpServer { DataDone = _ => reply };
        var result = await Transport().DeliverAsync(Hop(server.Port), Message("a\n"), Rcpts("a@remote.test"), CancellationToken.None);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(outcome, r.Outcome);
        Assert.Equal(dsn, r.Dsn.ToString());
        Assert.Equal($"host 127.0.0.1[127.0.0.1] said: {reply} (in reply to end of DATA command)", r.Text);
    }

    [Fact]
    public async Task Connection_refused_defers_with_postfix_text_and_logs_the_attempt()
    {
        int port = LoopbackSmtpServer.ClosedPort();
        var result = await Transport().DeliverAsync(Hop(port), Message("a\n"), Rcpts("a@remote.test"), CancellationToken.None);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Equal("4.4.1", r.Dsn.ToString());
        Assert.Equal($"connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused", r.Text);
        Assert.Equal("none", r.Relay);
        Assert.Contains($"{Id}: connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused", _sink.Lines);
    }

    [Fact]
    public async Task A_4xx_greeting_defers_as_refused_to_talk()
    {
        await using var server = new LoopbackSmtpServer(greeting: "421 4.3.2 Service not available");
        var result = await Transport().DeliverAsync(Hop(server.Port), Message("a\n"), Rcpts("a@remote.test"), CancellationToken.None);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Equal("host 127.0.0.1[127.0.0.1] refused to talk to me: 421 4.3.2 Service not available", r.Text);
    }

    [Fact]
    public async Task Starttls_is_used_when_offered_and_ehlo_is_repeated()
    {
        await using var server = new LoopbackSmtpServer { OfferTls = true };
        var result = await Transport().DeliverAsync(Hop(server.Port), Message("secret\n"), Rcpts("a@remote.test"), CancellationToken.None);

        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.True(server.TlsUsed);
        Assert.Equal(["EHLO client.test", "STARTTLS", "EHLO client.test"], server.Commands.Take(3));
        Assert.Contains(_sink.Lines, l => l.StartsWith($"Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:{server.Port}: TLSv1.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Security_level_none_ignores_starttls()
    {
        await using var server = new LoopbackSmtpServer { OfferTls = true };
        var result = await Transport(new SmtpClientOptions { HeloName = "client.test", TlsLevel = SmtpTlsLevel.None })
            .DeliverAsync(Hop(server.Port), Message("a\n"), Rcpts("a@remote.test"), CancellationToken.None);

        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.False(server.TlsUsed);
        Assert.DoesNotContain("STARTTLS", server.Commands);
    }

    [Fact]
    public async Task Message_over_the_servers_size_bounces_without_mail_from()
    {
        await using var server = new LoopbackSmtpServer(c => LoopbackSmtpServer.Verb(c) == "EHLO"
            ? "250-mx.test\r\n250 SIZE 10" : LoopbackSmtpServer.DefaultReply(c));
        var result = await Transport().DeliverAsync(Hop(server.Port), Message("this is longer than ten bytes\n"), Rcpts("a@remote.test"), CancellationToken.None);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Bounced, r.Outcome);
        Assert.Equal("5.3.4", r.Dsn.ToString());
        Assert.Equal("message size 30 exceeds size limit 10 of server 127.0.0.1[127.0.0.1]", r.Text);
        Assert.DoesNotContain(server.Commands, c => c.StartsWith("MAIL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Server_hanging_up_after_rcpt_defers_with_lost_connection()
    {
        await using var server = new LoopbackSmtpServer(c => LoopbackSmtpServer.Verb(c) == "RCPT" ? null : LoopbackSmtpServer.DefaultReply(c));
        var result = await Transport().DeliverAsync(Hop(server.Port), Message("a\n"), Rcpts("a@remote.test"), CancellationToken.None);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Equal("4.4.2", r.Dsn.ToString());
        Assert.StartsWith("lost connection with 127.0.0.1[127.0.0.1] while ", r.Text);
    }

    [Fact]
    public async Task Reply_line_over_the_limit_ends_the_session_as_malformed()
    {
        await using var server = new LoopbackSmtpServer(greeting: "220 " + new string('x', 10_000));
        var result = await Transport(new SmtpClientOptions { HeloName = "client.test", ReplyLineLimit = 512 })
            .DeliverAsync(Hop(server.Port), Message("a\n"), Rcpts("a@remote.test"), CancellationToken.None);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Equal("host 127.0.0.1[127.0.0.1] sent a malformed reply while receiving the initial server greeting", r.Text);
    }

    /// <summary>For tests with literal next hops: any DNS query is a test failure.</summary>
}
