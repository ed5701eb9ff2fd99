using System.Net;
using System.Net.Sockets;
using Posthorn.Mail.Outbound;
using Posthorn.Tests.Outbound;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>reject_rbl_client against a real DNS list served by dnsmasq on loopback.</summary>
public sealed class RblClientTests : IClassFixture<RblClientTests.Dns>, IDisposable
{
    public sealed class Dns : IDisposable
    {
        public LoopbackDns Server { get; } = new(
            "--host-record=2.0.0.127.rbl.test,127.0.0.2",
            "--host-record=3.0.0.127.rbl.test,127.0.0.3",
            "--host-record=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.rbl.test,127.0.0.2");

        public void Dispose() => Server.Dispose();
    }

    private readonly Dns _dns;
    private readonly PolicyHarness _h = new();

    public RblClientTests(Dns dns) => _dns = dns;

    public void Dispose() => _h.Dispose();

    private Task<string?> Rcpt(string restrictions, string client, IDnsResolver? dns = null) =>
        _h.RcptAsync($"smtpd_client_restrictions = {restrictions}", session: PolicyHarness.Session(client, name: "unknown"),
            dns: dns ?? _dns.Server.Resolver());

    [Fact]
    public async Task A_listed_client_is_refused_with_postfixs_text()
    {
        Assert.Equal("554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using rbl.test",
            await Rcpt("reject_rbl_client rbl.test", "127.0.0.2"));
    }

    [Fact]
    public async Task An_unlisted_client_passes()
    {
        Assert.Null(await Rcpt("reject_rbl_client rbl.test", "127.0.0.9"));
    }

    [Fact]
    public async Task A_reply_filter_matches_only_that_answer()
    {
        Assert.Null(await Rcpt("reject_rbl_client rbl.test=127.0.0.3", "127.0.0.2"));
        Assert.Equal("554 5.7.1 Service unavailable; Client host [127.0.0.3] blocked using rbl.test",
            await Rcpt("reject_rbl_client rbl.test=127.0.0.3", "127.0.0.3"));
    }

    [Fact]
    public async Task An_ipv6_client_is_looked_up_by_nibbles()
    {
        Assert.Equal("554 5.7.1 Service unavailable; Client host [2001:db8::1] blocked using rbl.test",
            await Rcpt("reject_rbl_client rbl.test", "2001:db8::1"));
    }

    [Fact]
    public async Task Mynetworks_permitted_first_skips_the_list()
    {
        Assert.Null(await Rcpt("permit_mynetworks, reject_rbl_client rbl.test", "127.0.0.2"));
        Assert.NotNull(await Rcpt("reject_rbl_client rbl.test, permit_mynetworks", "127.0.0.2"));
    }

    [Fact]
    public async Task A_list_that_does_not_answer_defers_what_would_be_permitted()
    {
        // A loopback UDP port nobody listens on: the query fails at once (TryAgain), it is never answered.
        int port;
        using (var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)s.LocalEndPoint!).Port;
        }
        var dead = new DnsClientResolver([new IPEndPoint(IPAddress.Loopback, port)], TimeSpan.FromMilliseconds(300));
        Assert.Equal("450 4.7.1 <unknown[127.0.0.2]>: Client host rejected: Temporary lookup failure",
            await Rcpt("reject_rbl_client rbl.test", "127.0.0.2", dead));
        Assert.Contains(_h.Lines, l => l.StartsWith("warning: rbl.test: RBL lookup error"));
    }
}
