using System.Net;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>MX selection against a real DNS server (dnsmasq) on loopback.</summary>
public sealed class NextHopResolverTests : IClassFixture<NextHopResolverTests.Dns>
{
    public sealed class Dns() : IDisposable
    {
        public LoopbackDns Server { get; } = new(
            "--mx-host=multi.test,mx-b.multi.test,20",
            "--mx-host=multi.test,mx-a1.multi.test,10",
            "--mx-host=multi.test,mx-a2.multi.test,10",
            "--host-record=mx-a1.multi.test,127.0.0.11",
            "--host-record=mx-a2.multi.test,127.0.0.12",
            "--host-record=mx-b.multi.test,127.0.0.13,::1",
            "--host-record=nomx.test,127.0.0.20",
            "--mx-host=nullmx.test,.,0",
            "--mx-host=dangling.test,nowhere.test,10",
            "--host-record=relay.test,127.0.0.30");

        public void Dispose() => Server.Dispose();
    }

    private readonly Dns _dns;

    public NextHopResolverTests(Dns dns) => _dns = dns;

    private NextHopResolver Resolver(int seed = 1, bool ipv6 = false) =>
        new(_dns.Server.Resolver(), new HostLookupOptions { UseIPv6 = ipv6 }, new Random(seed));

    [Fact]
    public async Task Mx_by_preference_with_equal_preferences_in_both_orders_over_seeds()
    {
        var orders = new HashSet<string>();
        for (int seed = 0; seed < 20; seed++)
        {
            var r = await Resolver(seed).ResolveAsync(NextHop.ForDomain("multi.test"), CancellationToken.None);
            Assert.True(r.Found, r.Error);
            Assert.Equal(3, r.Servers.Count);
            Assert.Equal("mx-b.multi.test[127.0.0.13]:25", r.Servers[2].ToString());
            orders.Add(string.Join(",", r.Servers.Take(2).Select(s => s.HostName)));
        }
        Assert.Equal(["mx-a1.multi.test,mx-a2.multi.test", "mx-a2.multi.test,mx-a1.multi.test"], orders.Order());
    }

    [Fact]
    public async Task Aaaa_records_are_used_when_ipv6_is_enabled()
    {
        var r = await Resolver(ipv6: true).ResolveAsync(new NextHop("mx-b.multi.test", 25, SkipMx: true), CancellationToken.None);
        Assert.Equal([IPAddress.Parse("127.0.0.13"), IPAddress.IPv6Loopback], r.Servers.Select(s => s.Address));
    }

    [Fact]
    public async Task No_mx_falls_back_to_the_address_of_the_domain()
    {
        var r = await Resolver().ResolveAsync(NextHop.ForDomain("nomx.test"), CancellationToken.None);
        Assert.Equal("nomx.test[127.0.0.20]:25", Assert.Single(r.Servers).ToString());
    }

    [Fact]
    public async Task Null_mx_bounces_with_5_1_10()
    {
        var r = await Resolver().ResolveAsync(NextHop.ForDomain("nullmx.test"), CancellationToken.None);
        Assert.False(r.Found);
        Assert.Equal(DeliveryOutcome.Bounced, r.Outcome);
        Assert.Equal("5.1.10", r.Dsn.ToString());
        Assert.Equal("Domain nullmx.test does not accept mail (nullMX)", r.Error);
    }

    [Fact]
    public async Task Nonexistent_domain_bounces_with_postfix_text()
    {
        var r = await Resolver().ResolveAsync(NextHop.ForDomain("missing.test"), CancellationToken.None);
        Assert.Equal(DeliveryOutcome.Bounced, r.Outcome);
        Assert.Equal("5.4.4", r.Dsn.ToString());
        Assert.Equal("Host or domain name not found. Name service error for name=missing.test type=MX: Host not found", r.Error);
    }

    [Fact]
    public async Task Mx_host_without_address_bounces_naming_the_host()
    {
        var r = await Resolver().ResolveAsync(NextHop.ForDomain("dangling.test"), CancellationToken.None);
        Assert.Equal(DeliveryOutcome.Bounced, r.Outcome);
        Assert.Equal("Host or domain name not found. Name service error for name=nowhere.test type=A: Host not found", r.Error);
    }

    [Fact]
    public async Task Bracketed_host_skips_mx_and_keeps_its_port()
    {
        Assert.True(NextHop.TryParse("[relay.test]:587", out var hop));
        var r = await Resolver().ResolveAsync(hop, CancellationToken.None);
        Assert.Equal("relay.test[127.0.0.30]:587", Assert.Single(r.Servers).ToString());
        // Without brackets the same name has no MX and falls back to its address too, but looked up MX first.
        Assert.True(NextHop.TryParse("[multi.test]", out var skip));
        var none = await Resolver().ResolveAsync(skip, CancellationToken.None);
        Assert.False(none.Found);
    }

    [Fact]
    public async Task Unreachable_dns_server_defers_never_bounces()
    {
        int closed = LoopbackSmtpServer.ClosedPort();
        var resolver = new NextHopResolver(new DnsClientResolver([new IPEndPoint(IPAddress.Loopback, closed)], TimeSpan.FromMilliseconds(300)),
            new HostLookupOptions(), new Random(1));
        var r = await resolver.ResolveAsync(NextHop.ForDomain("multi.test"), CancellationToken.None);
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Equal("4.4.3", r.Dsn.ToString());
        Assert.Equal("Host or domain name not found. Name service error for name=multi.test type=MX: Host not found, try again", r.Error);
    }

    [Theory]
    [InlineData("example.com", "example.com", 25, false)]
    [InlineData("[mail.example.com]", "mail.example.com", 25, true)]
    [InlineData("[mail.example.com]:587", "mail.example.com", 587, true)]
    [InlineData("example.com:2525", "example.com", 2525, false)]
    [InlineData("[192.0.2.1]", "192.0.2.1", 25, true)]
    [InlineData("[ipv6:2001:db8::1]:26", "2001:db8::1", 26, true)]
    public void Relayhost_forms_parse(string text, string host, int port, bool skipMx)
    {
        Assert.True(NextHop.TryParse(text, out var hop));
        Assert.Equal(new NextHop(host, port, skipMx), hop);
        Assert.Equal(text.Replace("ipv6:", "", StringComparison.Ordinal), hop.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("[host]x")]
    [InlineData("host:0")]
    [InlineData("host:99999")]
    public void Bad_relayhost_forms_are_refused(string text) => Assert.False(NextHop.TryParse(text, out _));

    [Fact]
    public async Task End_to_end_mx_lookup_then_smtp_to_the_loopback_server()
    {
        // The MX host publishes 127.0.0.1; the SMTP server listens there on a test port given in the next hop.
        await using var smtp = new LoopbackSmtpServer();
        using var dns2 = new LoopbackDns("--mx-host=dest.test,mx.dest.test,10", "--host-record=mx.dest.test,127.0.0.1");
        var transport2 = new SmtpTransport(new SmtpClientOptions { HeloName = "client.test" },
            new NextHopResolver(dns2.Resolver(), new HostLookupOptions { UseIPv6 = false }, new Random(1)), MailLog.Discard, TimeProvider.System);
        var bytes = "Subject: x\n\nhi\n"u8.ToArray();
        var msg = new OutboundMessage(new Posthorn.Core.QueueId("ABCDEF123456"), Posthorn.Core.SmtpPath.FromAddress("a@client.test"), bytes.Length, () => new MemoryStream(bytes));
        var result = await transport2.DeliverAsync(new NextHop("dest.test", smtp.Port, SkipMx: false), msg,
            [new OutboundRecipient("bob@dest.test")], CancellationToken.None);
        Assert.Equal($"mx.dest.test[127.0.0.1]:{smtp.Port}", result.Recipients[0].Relay);
        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
    }
}
