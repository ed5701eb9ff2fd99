using System.Net;
using Posthorn.Core;
using Posthorn.Daemon.Policy;
using Posthorn.Tests.Outbound;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>reject_rhsbl_* against a real DNS list served by dnsmasq on loopback, and the client host name checks.</summary>
public sealed class RhsblAndClientNameTests : IClassFixture<RhsblAndClientNameTests.Dns>, IDisposable
{
    public sealed class Dns : IDisposable
    {
        public LoopbackDns Server { get; } = new(
            "--host-record=bad.example.rhsbl.test,127.0.0.2",
            "--host-record=spammer.example.rhsbl.test,127.0.0.2",
            "--host-record=evil-helo.example.rhsbl.test,127.0.0.4",
            "--ptr-record=8.2.0.192.in-addr.arpa,ptr-only.example");

        public void Dispose() => Server.Dispose();
    }

    private readonly Dns _dns;
    private readonly PolicyHarness _h = new();

    public RhsblAndClientNameTests(Dns dns) => _dns = dns;

    public void Dispose() => _h.Dispose();

    private Task<string?> Rcpt(string restrictions, string sender = "someone@sender.example", string name = "client.example", string helo = "client.example") =>
        _h.RcptAsync($"smtpd_recipient_restrictions = {restrictions}", sender: sender,
            session: PolicyHarness.Session("192.0.2.7", name: name, helo: helo), dns: _dns.Server.Resolver());

    [Fact]
    public async Task Rhsbl_sender_rejects_a_listed_sender_domain()
    {
        Assert.Equal("554 5.7.1 Service unavailable; Sender address [spammer.example] blocked using rhsbl.test",
            await Rcpt("reject_rhsbl_sender rhsbl.test", sender: "x@spammer.example"));
        Assert.Null(await Rcpt("reject_rhsbl_sender rhsbl.test", sender: "x@fine.example"));
        Assert.Null(await Rcpt("reject_rhsbl_sender rhsbl.test", sender: ""));
    }

    [Fact]
    public async Task Rhsbl_client_and_helo_look_up_the_client_name_and_the_helo_name()
    {
        Assert.Equal("554 5.7.1 Service unavailable; Client host [bad.example] blocked using rhsbl.test",
            await Rcpt("reject_rhsbl_client rhsbl.test", name: "bad.example"));
        Assert.Null(await Rcpt("reject_rhsbl_client rhsbl.test", name: "unknown"));
        Assert.Equal("554 5.7.1 Service unavailable; Helo command [evil-helo.example] blocked using rhsbl.test",
            await Rcpt("reject_rhsbl_helo rhsbl.test", helo: "evil-helo.example"));
        // A reply filter that does not match the answer lets the client through.
        Assert.Null(await Rcpt("reject_rhsbl_helo rhsbl.test=127.0.0.2", helo: "evil-helo.example"));
    }

    [Fact]
    public async Task Unknown_client_hostname_is_deferred_450_4_7_25()
    {
        Assert.Equal("450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.7]",
            await Rcpt("reject_unknown_client_hostname", name: "unknown"));
        Assert.Null(await Rcpt("reject_unknown_client_hostname", name: "client.example"));
        Assert.Equal("550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.7]",
            await _h.RcptAsync("smtpd_client_restrictions = reject_unknown_client_hostname\nunknown_client_reject_code = 550",
                session: PolicyHarness.Session("192.0.2.7", name: "unknown")));
    }

    [Fact]
    public async Task Unknown_reverse_client_hostname_passes_a_name_that_only_lacks_forward_confirmation()
    {
        var s = _h.Configure("smtpd_client_restrictions = reject_unknown_reverse_client_hostname");
        var ptr = new PtrLookup([new IPEndPoint(IPAddress.Loopback, _dns.Server.Port)], TimeSpan.FromSeconds(2));
        var evaluator = new RestrictionEvaluator(s, s.Restrictions, null, _h.Log, _ => true) { ReverseLookup = ptr.ReverseNameAsync };
        async Task<string?> Check(string address) => (await evaluator.CheckRecipientAsync(new PolicyRequest(
            PolicyHarness.Session(address, name: "unknown"), SmtpPath.FromAddress("a@b.example"), SmtpPath.FromAddress("user@example.test"), "RCPT"),
            default)).Reply?.ToString();
        // 192.0.2.7 has no PTR record at all; 192.0.2.8 has one (not forward-confirmed, so smtpd calls it "unknown").
        Assert.Equal("450 4.7.25 Client host rejected: cannot find your reverse hostname, [192.0.2.7]", await Check("192.0.2.7"));
        Assert.Null(await Check("192.0.2.8"));
    }
}
