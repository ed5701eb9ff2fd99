using System.Net;
using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>postconf(5) smtp_fallback_relay: relay hosts "for SMTP destinations that can't be found or that are unreachable".</summary>
public sealed class FallbackRelayTests
{
    private static readonly QueueId Id = new("ABCDEF123456");

    private static SmtpTransport Transport(params NextHop[] fallback) =>
        new(new SmtpClientOptions { HeloName = "client.test", ConnectTimeout = TimeSpan.FromSeconds(5), TlsLevel = SmtpTlsLevel.None, FallbackRelay = fallback },
            new NextHopResolver(new NotFoundDns(), new HostLookupOptions(), new Random(1)),
            new MailLog(new ListLogSink(), "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System);

    private static OutboundMessage Message()
    {
        var bytes = Encoding.UTF8.GetBytes("a\n");
        return new OutboundMessage(Id, SmtpPath.FromAddress("alice@client.test"), bytes.Length, () => new MemoryStream(bytes));
    }

    private static NextHop Literal(int port) => new("127.0.0.1", port, SkipMx: true);

    [Fact]
    public async Task Unreachable_destination_is_delivered_through_the_fallback_relay()
    {
        await using var fallback = new LoopbackSmtpServer();
        var result = await Transport(Literal(fallback.Port)).DeliverAsync(Literal(LoopbackSmtpServer.ClosedPort()), Message(),
            [new OutboundRecipient("bob@remote.test")], CancellationToken.None);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Sent, r.Outcome);
        Assert.Equal($"127.0.0.1[127.0.0.1]:{fallback.Port}", r.Relay);
    }

    [Fact]
    public async Task Destination_not_found_in_dns_goes_to_the_fallback_relay_instead_of_bouncing()
    {
        await using var fallback = new LoopbackSmtpServer();
        var result = await Transport(Literal(fallback.Port)).DeliverAsync(new NextHop("nowhere.test", 25, false), Message(),
            [new OutboundRecipient("bob@nowhere.test")], CancellationToken.None);

        Assert.Equal(DeliveryOutcome.Sent, Assert.Single(result.Recipients).Outcome);
        Assert.Single(fallback.Messages);
    }

    [Fact]
    public async Task Without_a_fallback_relay_a_destination_not_found_bounces()
    {
        var result = await Transport().DeliverAsync(new NextHop("nowhere.test", 25, false), Message(),
            [new OutboundRecipient("bob@nowhere.test")], CancellationToken.None);

        Assert.Equal(DeliveryOutcome.Bounced, Assert.Single(result.Recipients).Outcome);
    }

    [Fact]
    public async Task A_recipient_refused_for_good_by_the_destination_is_not_sent_to_the_fallback()
    {
        await using var primary = new LoopbackSmtpServer(c => LoopbackSmtpServer.Verb(c) == "RCPT"
            ? "550 5.1.1 <bob@remote.test>: Recipient address rejected" : LoopbackSmtpServer.DefaultReply(c));
        await using var fallback = new LoopbackSmtpServer();
        var result = await Transport(Literal(fallback.Port)).DeliverAsync(Literal(primary.Port), Message(),
            [new OutboundRecipient("bob@remote.test")], CancellationToken.None);

        Assert.Equal(DeliveryOutcome.Bounced, Assert.Single(result.Recipients).Outcome);
        Assert.Equal(0, fallback.Sessions);
    }

    /// <summary>Every name is NXDOMAIN.</summary>
    private sealed class NotFoundDns : IDnsResolver
    {
        public ValueTask<DnsAnswer<MxRecord>> LookupMxAsync(string domain, CancellationToken ct) => new(DnsAnswer<MxRecord>.Fail(DnsStatus.NotFound));
        public ValueTask<DnsAnswer<IPAddress>> LookupAAsync(string host, CancellationToken ct) => new(DnsAnswer<IPAddress>.Fail(DnsStatus.NotFound));
        public ValueTask<DnsAnswer<IPAddress>> LookupAaaaAsync(string host, CancellationToken ct) => new(DnsAnswer<IPAddress>.Fail(DnsStatus.NotFound));
    }
}
