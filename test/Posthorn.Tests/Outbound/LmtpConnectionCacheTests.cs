using System.Text;
using Posthorn.Core;
using Posthorn.Daemon.Qmgr;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>lmtp(8) connection caching (Postfix lmtp_connection_cache_on_demand): a session to a store with more
/// mail waiting stays open and is reused after RSET, over TCP and over a unix socket.</summary>
public sealed class LmtpConnectionCacheTests : IDisposable
{
    private static readonly QueueId Id = new("ABCDEF123456");
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-lmtpcache-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static LmtpTransport Transport(TimeSpan cacheTime) =>
        new(new SmtpClientOptions { HeloName = "client.test", TlsLevel = SmtpTlsLevel.None, ConnectionCacheTimeLimit = cacheTime },
            new NextHopResolver(new NoDnsResolver(), new HostLookupOptions(), new Random(1)),
            new MailLog(new ListLogSink(), "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System, "client.test");

    private static OutboundMessage Message(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return new OutboundMessage(Id, SmtpPath.FromAddress("alice@client.test"), bytes.Length, () => new MemoryStream(bytes));
    }

    private static async Task<DeliveryOutcome> Send(LmtpTransport t, LmtpDestination d, string text, bool backlog) =>
        (await t.DeliverAsync(d, Message(text), [new OutboundRecipient("bob@store.test")], CancellationToken.None, backlog)).Recipients[0].Outcome;

    private static LmtpDestination Parse(string text) =>
        LmtpDestination.TryParse(text, "/unused", out var d) ? d : throw new InvalidOperationException(text);

    [Fact]
    public async Task With_a_backlog_an_inet_session_is_reused_after_rset()
    {
        await using var server = new LoopbackSmtpServer { Lmtp = true };
        var t = Transport(TimeSpan.FromMinutes(5));
        var d = Parse($"inet:127.0.0.1:{server.Port}");
        Assert.Equal(DeliveryOutcome.Sent, await Send(t, d, "one\n", backlog: true));
        Assert.Equal(DeliveryOutcome.Sent, await Send(t, d, "two\n", backlog: false));

        Assert.Equal(1, server.Sessions);
        Assert.Equal(["LHLO client.test", "MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA", "QUIT"],
            server.Commands.Select(c => c.StartsWith("LHLO", StringComparison.Ordinal) ? c : LoopbackSmtpServer.Verb(c)));
        Assert.Equal(2, server.Messages.Count);
    }

    [Fact]
    public async Task A_unix_socket_session_is_reused_too_and_caching_off_quits_each_time()
    {
        string socket = Path.Combine(_dir.FullName, "lmtp.sock");
        await using var server = new LoopbackSmtpServer(unixSocketPath: socket) { Lmtp = true };
        var d = Parse($"unix:{socket}");
        var t = Transport(TimeSpan.FromMinutes(5));
        await Send(t, d, "one\n", backlog: true);
        await Send(t, d, "two\n", backlog: false);
        Assert.Equal(1, server.Sessions);

        var off = Transport(TimeSpan.Zero);
        await Send(off, d, "three\n", backlog: true);
        await Send(off, d, "four\n", backlog: true);
        Assert.Equal(3, server.Sessions);
        Assert.Equal(4, server.Messages.Count);
    }

    [Theory]
    [InlineData("", 2, true)]
    [InlineData("lmtp_connection_cache_time_limit = 7s\n", 7, true)]
    [InlineData("lmtp_connection_cache_on_demand = no\n", 2, false)]
    [InlineData("smtp_connection_cache_on_demand = no\n", 2, true)]   // the smtp parameter does not govern lmtp(8)
    public void Lmtp_cache_parameters_are_read_for_lmtp_transports(string mainCf, int seconds, bool onDemand)
    {
        var o = OutboundSettings.From(TestConfig.Load(mainCf), lmtp: true);
        Assert.Equal(TimeSpan.FromSeconds(seconds), o.Smtp.ConnectionCacheTimeLimit);
        Assert.Equal(onDemand, o.Smtp.ConnectionCacheOnDemand);
    }

    [Fact]
    public async Task Lmtp_connection_cache_destinations_keeps_a_listed_socket_open_without_a_backlog()
    {
        string socket = Path.Combine(_dir.FullName, "store.sock");
        await using var server = new LoopbackSmtpServer(unixSocketPath: socket) { Lmtp = true };
        // Postfix: "a pathname (without the unix: prefix)", as written in the next hop (relative to the queue directory).
        var o = OutboundSettings.From(TestConfig.Load("lmtp_connection_cache_on_demand = no\nlmtp_connection_cache_destinations = store.sock\n"), lmtp: true);
        var t = new LmtpTransport(o.Smtp with { TlsLevel = SmtpTlsLevel.None }, new NextHopResolver(new NoDnsResolver(), new HostLookupOptions(), new Random(1)),
            new MailLog(new ListLogSink(), "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System, "client.test");
        Assert.True(LmtpDestination.TryParse("unix:store.sock", _dir.FullName, out var d));
        Assert.Equal(DeliveryOutcome.Sent, await Send(t, d, "one\n", backlog: false));
        Assert.Equal(DeliveryOutcome.Sent, await Send(t, d, "two\n", backlog: false));
        Assert.Equal(1, server.Sessions);
        Assert.Contains("RSET", server.Commands);

        // Not listed, no backlog, on-demand off: one session per delivery.
        string other = Path.Combine(_dir.FullName, "other.sock");
        await using var server2 = new LoopbackSmtpServer(unixSocketPath: other) { Lmtp = true };
        Assert.True(LmtpDestination.TryParse("unix:other.sock", _dir.FullName, out var d2));
        await Send(t, d2, "three\n", backlog: true);
        await Send(t, d2, "four\n", backlog: true);
        Assert.Equal(2, server2.Sessions);
    }
}
