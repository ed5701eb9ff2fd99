using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

public sealed class LmtpTransportTests : IDisposable
{
    private static readonly QueueId Id = new("ABCDEF123456");
    private readonly ListLogSink _sink = new();
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-lmtp-");

    public void Dispose() => _dir.Delete(recursive: true);

    private LmtpTransport Transport() =>
        new(new SmtpClientOptions { HeloName = "client.test", ConnectTimeout = TimeSpan.FromSeconds(5), TlsLevel = SmtpTlsLevel.None },
            new NextHopResolver(new NoDnsResolver(), new HostLookupOptions(), new Random(1)),
            new MailLog(_sink, "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System, "client.test");

    private static OutboundMessage Message(string content)
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        return new OutboundMessage(Id, SmtpPath.FromAddress("alice@client.test"), bytes.Length, () => new MemoryStream(bytes));
    }

    private static List<OutboundRecipient> Rcpts(params string[] a) => [.. a.Select(x => new OutboundRecipient(x))];

    private static LmtpDestination Inet(int port) =>
        LmtpDestination.TryParse($"inet:127.0.0.1:{port}", "/unused", out var d) ? d : throw new InvalidOperationException();

    [Fact]
    public async Task Lhlo_then_one_reply_per_recipient_after_the_dot_settles_each_recipient_alone()
    {
        // RFC 2033 §4.2: bob is stored, carol's mailbox is full (452), dave does not exist (550).
        await using var server = new LoopbackSmtpServer
        {
            Lmtp = true,
            LmtpDataDone = rcpt => rcpt switch
            {
                "bob@store.test" => "250 2.0.0 <bob@store.test> Saved",
                "carol@store.test" => "452 4.2.2 <carol@store.test> Mailbox full",
                _ => "550 5.1.1 <dave@store.test> User doesn't exist",
            },
        };
        var result = await Transport().DeliverAsync(Inet(server.Port), Message("Subject: x\n\nhi\n"),
            Rcpts("bob@store.test", "carol@store.test", "dave@store.test"), CancellationToken.None);

        Assert.Equal("LHLO client.test", server.Commands[0]);
        Assert.DoesNotContain(server.Commands, c => c.StartsWith("EHLO", StringComparison.Ordinal));
        Assert.Equal([DeliveryOutcome.Sent, DeliveryOutcome.Deferred, DeliveryOutcome.Bounced], result.Recipients.Select(r => r.Outcome));
        Assert.Equal("250 2.0.0 <bob@store.test> Saved", result.Recipients[0].Text);
        Assert.Equal("4.2.2", result.Recipients[1].Dsn.ToString());
        Assert.Equal($"host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <dave@store.test> User doesn't exist (in reply to end of DATA command)", result.Recipients[2].Text);
        Assert.Equal($"127.0.0.1[127.0.0.1]:{server.Port}", result.Recipients[0].Relay);
        Assert.Equal("Subject: x\r\n\r\nhi\r\n.\r\n", Encoding.UTF8.GetString(server.Messages.Single()));
    }

    [Fact]
    public async Task Only_recipients_accepted_at_rcpt_get_a_reply_after_the_dot()
    {
        await using var server = new LoopbackSmtpServer(c => c == "RCPT TO:<nobody@store.test>"
            ? "550 5.1.1 <nobody@store.test> User doesn't exist" : LoopbackSmtpServer.DefaultReply(c)) { Lmtp = true };
        var result = await Transport().DeliverAsync(Inet(server.Port), Message("a\n"),
            Rcpts("nobody@store.test", "bob@store.test"), CancellationToken.None);

        Assert.Equal(DeliveryOutcome.Bounced, result.Recipients[0].Outcome);
        Assert.EndsWith("(in reply to RCPT TO command)", result.Recipients[0].Text);
        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[1].Outcome);
        Assert.Equal("250 2.0.0 <bob@store.test> Saved", result.Recipients[1].Text);
        // The session ended cleanly: the one post-dot reply was read, then QUIT.
        Assert.Equal("QUIT", server.Commands[^1]);
    }

    [Fact]
    public async Task Unix_socket_next_hop_relative_to_the_queue_directory_is_delivered_over_that_socket()
    {
        Directory.CreateDirectory(Path.Combine(_dir.FullName, "private"));
        string path = Path.Combine(_dir.FullName, "private", "dovecot-lmtp");
        await using var server = new LoopbackSmtpServer(unixSocketPath: path) { Lmtp = true };
        Assert.True(LmtpDestination.TryParse("unix:private/dovecot-lmtp", _dir.FullName, out var hop));
        Assert.Equal(path, hop.SocketPath);

        var result = await Transport().DeliverAsync(hop, Message("a\n"), Rcpts("bob@store.test"), CancellationToken.None);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Sent, r.Outcome);
        // Postfix lmtp(8) names a socket peer host[path].
        Assert.Equal($"client.test[{path}]", r.Relay);
        Assert.Equal(1, server.Sessions);
    }

    [Fact]
    public async Task A_missing_socket_defers_with_the_connect_error()
    {
        string path = Path.Combine(_dir.FullName, "absent");
        Assert.True(LmtpDestination.TryParse("unix:" + path, _dir.FullName, out var hop));
        var result = await Transport().DeliverAsync(hop, Message("a\n"), Rcpts("bob@store.test"), CancellationToken.None);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.StartsWith($"connect to client.test[{path}]: ", r.Text);
    }

    [Fact]
    public async Task A_refused_lhlo_defers_without_trying_helo()
    {
        await using var server = new LoopbackSmtpServer(c => LoopbackSmtpServer.Verb(c) == "LHLO"
            ? "500 5.5.1 unknown command" : LoopbackSmtpServer.DefaultReply(c)) { Lmtp = true };
        var result = await Transport().DeliverAsync(Inet(server.Port), Message("a\n"), Rcpts("bob@store.test"), CancellationToken.None);

        Assert.Equal(DeliveryOutcome.Bounced, result.Recipients[0].Outcome);
        Assert.EndsWith("(in reply to LHLO command)", result.Recipients[0].Text);
        Assert.DoesNotContain(server.Commands, c => c.StartsWith("HELO", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("unix:/run/dovecot/lmtp", "/q", "/run/dovecot/lmtp", null, 0)]
    [InlineData("unix:private/dovecot-lmtp", "/q", "/q/private/dovecot-lmtp", null, 0)]
    [InlineData("inet:127.0.0.1:2003", "/q", null, "127.0.0.1", 2003)]
    [InlineData("inet:store.test", "/q", null, "store.test", 24)]
    [InlineData("[127.0.0.1]:24", "/q", null, "127.0.0.1", 24)]
    [InlineData("[::1]", "/q", null, "::1", 24)]
    [InlineData("store.test:2424", "/q", null, "store.test", 2424)]
    public void Next_hop_forms_of_lmtp8(string text, string queueDir, string? socket, string? host, int port)
    {
        Assert.True(LmtpDestination.TryParse(text, queueDir, out var d));
        Assert.Equal(socket, d.SocketPath);
        if (host is not null)
        {
            Assert.Equal(host, d.Inet.Host);
            Assert.Equal(port, d.Inet.Port);
            Assert.True(d.Inet.SkipMx);
        }
    }

    [Theory]
    [InlineData("unix:")]
    [InlineData("inet:")]
    [InlineData("[host]:x")]
    public void Bad_next_hops_are_refused(string text) => Assert.False(LmtpDestination.TryParse(text, "/q", out _));

}
