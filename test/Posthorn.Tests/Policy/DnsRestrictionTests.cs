using System.Net;
using System.Net.Sockets;
using Posthorn.Core;
using Posthorn.Daemon.Policy;
using Posthorn.Mail.Outbound;
using Posthorn.Tests.Outbound;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>reject_unknown_helo_hostname, reject_unknown_sender_domain, reject_unknown_recipient_domain and
/// permit_dnswl_client against real records served by dnsmasq on loopback.</summary>
public sealed class DnsRestrictionTests : IClassFixture<DnsRestrictionTests.Dns>, IDisposable
{
    public sealed class Dns : IDisposable
    {
        public LoopbackDns Server { get; } = new(
            "--host-record=mail.good.test,192.0.2.10",
            "--host-record=v6only.test,2001:db8::5",
            "--mx-host=mxonly.test,mail.good.test,10",
            // RFC 7505 null MX: preference 0, exchange the root (RDATA 00 00 00).
            "--dns-rr=nullmx.test,15,000000",
            "--host-record=2.0.0.127.wl.test,127.0.0.2",
            "--host-record=4.0.0.127.wl.test,127.0.0.4",
            "--ptr-record=9.0.0.127.in-addr.arpa,ptr.good.test");

        public void Dispose() => Server.Dispose();
    }

    private readonly Dns _dns;
    private readonly PolicyHarness _h = new();

    public DnsRestrictionTests(Dns dns) => _dns = dns;

    public void Dispose() => _h.Dispose();

    /// <summary>A resolver pointed at a loopback UDP port nobody listens on: every query fails at once (TryAgain).</summary>
    internal static DnsClientResolver DeadResolver()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return new DnsClientResolver([(IPEndPoint)s.LocalEndPoint!], TimeSpan.FromMilliseconds(300));
    }

    private Task<string?> Helo(string mainCf, string helo, IDnsResolver? dns = null) =>
        _h.RcptAsync(mainCf, session: PolicyHarness.Session(helo: helo), dns: dns ?? _dns.Server.Resolver());

    private Task<string?> Rcpt(string mainCf, string rcpt = "user@example.test", string sender = "someone@mail.good.test",
        IDnsResolver? dns = null, string client = "192.0.2.7") =>
        _h.RcptAsync(mainCf, rcpt, sender, PolicyHarness.Session(client, name: "unknown"), dns ?? _dns.Server.Resolver());

    [Fact]
    public async Task Helo_name_without_address_or_mx_is_refused_with_450_host_not_found()
    {
        Assert.Equal("450 4.7.1 <nothing.test>: Helo command rejected: Host not found",
            await Helo("smtpd_helo_restrictions = reject_unknown_helo_hostname", "nothing.test"));
        Assert.Equal("550 5.7.1 <nothing.test>: Helo command rejected: Host not found",
            await Helo("smtpd_helo_restrictions = reject_unknown_helo_hostname\nunknown_hostname_reject_code = 550", "nothing.test"));
    }

    [Theory]
    [InlineData("mail.good.test")]
    [InlineData("v6only.test")]
    [InlineData("mxonly.test")]
    [InlineData("nullmx.test")]
    [InlineData("[192.0.2.1]")]
    public async Task Helo_name_with_an_a_aaaa_or_mx_record_or_a_valid_literal_passes(string helo) =>
        Assert.Null(await Helo("smtpd_helo_restrictions = reject_unknown_helo_hostname", helo));

    [Fact]
    public async Task Helo_address_literal_is_checked_for_syntax_only() =>
        Assert.Equal("501 5.5.2 <[300.1.1.1]>: Helo command rejected: invalid ip address",
            await Helo("smtpd_helo_restrictions = reject_unknown_helo_hostname", "[300.1.1.1]"));

    [Fact]
    public async Task Helo_dns_failure_defers_what_would_be_permitted_but_not_what_is_rejected()
    {
        const string cf = "smtpd_helo_restrictions = reject_unknown_helo_hostname";
        Assert.Equal("450 4.7.1 <mail.good.test>: Helo command rejected: Host not found", await Helo(cf, "mail.good.test", DeadResolver()));
        Assert.Equal("554 5.7.1 <user@example.test>: Recipient address rejected: Access denied",
            await Helo(cf + "\nsmtpd_recipient_restrictions = reject", "mail.good.test", DeadResolver()));
        // unknown_helo_hostname_tempfail_action = defer: the deferral is the reply at once.
        Assert.Equal("450 4.7.1 <mail.good.test>: Helo command rejected: Host not found",
            await Helo(cf + "\nsmtpd_recipient_restrictions = reject\nunknown_helo_hostname_tempfail_action = defer", "mail.good.test", DeadResolver()));
    }

    [Fact]
    public async Task Unknown_sender_domain_is_refused_with_450_4_1_8()
    {
        const string cf = "smtpd_sender_restrictions = reject_unknown_sender_domain";
        Assert.Equal("450 4.1.8 <a@nothing.test>: Sender address rejected: Domain not found", await Rcpt(cf, sender: "a@nothing.test"));
        Assert.Equal("550 5.1.8 <a@nothing.test>: Sender address rejected: Domain not found",
            await Rcpt(cf + "\nunknown_address_reject_code = 550", sender: "a@nothing.test"));
    }

    [Theory]
    [InlineData("a@mxonly.test")]
    [InlineData("a@mail.good.test")]
    [InlineData("a@v6only.test")]
    [InlineData("a@[192.0.2.1]")]
    [InlineData("")]
    [InlineData("a@example.test")]   // mydestination: never looked up (example.test has no records)
    public async Task Sender_domains_that_exist_ours_literals_and_the_null_sender_pass(string sender) =>
        Assert.Null(await Rcpt("smtpd_sender_restrictions = reject_unknown_sender_domain", sender: sender));

    [Fact]
    public async Task Null_mx_domains_are_refused_as_rfc_7505_says()
    {
        Assert.Equal("550 5.7.27 <a@nullmx.test>: Sender address rejected: Domain nullmx.test does not accept mail (nullMX)",
            await Rcpt("smtpd_sender_restrictions = reject_unknown_sender_domain", sender: "a@nullmx.test"));
        Assert.Equal("556 5.1.10 <b@nullmx.test>: Recipient address rejected: Domain nullmx.test does not accept mail (nullMX)",
            await Rcpt("smtpd_relay_restrictions = permit\nsmtpd_recipient_restrictions = reject_unknown_recipient_domain", rcpt: "b@nullmx.test"));
    }

    [Fact]
    public async Task Unknown_recipient_domain_is_refused_only_where_we_are_not_final()
    {
        const string cf = "smtpd_relay_restrictions = permit\nsmtpd_recipient_restrictions = reject_unknown_recipient_domain\nrelay_domains = relay.test";
        Assert.Equal("450 4.1.2 <b@nothing.test>: Recipient address rejected: Domain not found", await Rcpt(cf, rcpt: "b@nothing.test"));
        // relay_domains are not final: their DNS is checked; mydestination is not.
        Assert.Equal("450 4.1.2 <b@relay.test>: Recipient address rejected: Domain not found", await Rcpt(cf, rcpt: "b@relay.test"));
        Assert.Null(await Rcpt(cf, rcpt: "user@example.test"));
        Assert.Null(await Rcpt(cf, rcpt: "b@mxonly.test"));
    }

    [Fact]
    public async Task Address_dns_failure_follows_unknown_address_tempfail_action()
    {
        const string cf = "smtpd_sender_restrictions = reject_unknown_sender_domain";
        Assert.Equal("450 4.1.8 <a@mail.good.test>: Sender address rejected: Domain not found",
            await Rcpt(cf, sender: "a@mail.good.test", dns: DeadResolver()));
        Assert.Equal("554 5.7.1 <user@example.test>: Recipient address rejected: Access denied",
            await Rcpt(cf + "\nsmtpd_recipient_restrictions = reject", sender: "a@mail.good.test", dns: DeadResolver()));
        Assert.Equal("450 4.1.8 <a@mail.good.test>: Sender address rejected: Domain not found",
            await Rcpt(cf + "\nsmtpd_recipient_restrictions = reject\nunknown_address_tempfail_action = defer", sender: "a@mail.good.test", dns: DeadResolver()));
    }

    [Fact]
    public async Task Dnswl_listed_client_is_permitted_and_an_unlisted_one_is_not()
    {
        const string cf = "smtpd_client_restrictions = permit_dnswl_client wl.test, reject";
        Assert.Null(await Rcpt(cf, client: "127.0.0.2"));
        Assert.Equal("554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: Access denied", await Rcpt(cf, client: "127.0.0.9"));
        // A reply filter: only the given answer counts.
        Assert.NotNull(await Rcpt("smtpd_client_restrictions = permit_dnswl_client wl.test=127.0.0.4, reject", client: "127.0.0.2"));
        Assert.Null(await Rcpt("smtpd_client_restrictions = permit_dnswl_client wl.test=127.0.0.4, reject", client: "127.0.0.4"));
    }

    [Fact]
    public async Task Dnswl_never_permits_a_recipient_that_would_be_relayed()
    {
        const string cf = "smtpd_relay_restrictions = permit_dnswl_client wl.test, reject_unauth_destination";
        Assert.Equal("554 5.7.1 <b@remote.example>: Relay access denied", await Rcpt(cf, rcpt: "b@remote.example", client: "127.0.0.2"));
        Assert.Null(await Rcpt(cf, rcpt: "user@example.test", client: "127.0.0.2"));
    }

    [Fact]
    public async Task Dnswl_that_does_not_answer_turns_a_later_reject_into_a_deferral()
    {
        Assert.Equal("450 4.7.1 <127.0.0.2>: Client host rejected: Service unavailable",
            await Rcpt("smtpd_client_restrictions = permit_dnswl_client wl.test, reject", client: "127.0.0.2", dns: DeadResolver()));
    }

    [Fact]
    public async Task Dnswl_permit_is_logged_when_smtpd_log_access_permit_actions_names_it()
    {
        Assert.Null(await Rcpt("smtpd_client_restrictions = permit_dnswl_client wl.test\nsmtpd_log_access_permit_actions = permit_dnswl_client",
            client: "127.0.0.2"));
        Assert.Contains(_h.Lines, l => l.Contains("NOQUEUE: permit: RCPT from unknown[127.0.0.2]: action=permit_dnswl_client for "
            + "Client host=unknown[127.0.0.2]; from=<someone@mail.good.test> to=<user@example.test> proto=ESMTP"));
    }

    [Fact]
    public async Task The_explain_trace_records_the_restriction_and_its_dns_queries()
    {
        var s = _h.Configure("smtpd_sender_restrictions = reject_unknown_sender_domain");
        var trace = new RestrictionTrace();
        var evaluator = new RestrictionEvaluator(s, s.Restrictions, new TracingDnsResolver(_dns.Server.Resolver(), trace), _h.Log,
            _ => true) { Trace = trace };
        var decision = await evaluator.CheckRecipientAsync(new PolicyRequest(PolicyHarness.Session(),
            SmtpPath.FromAddress("a@nothing.test"), SmtpPath.FromAddress("user@example.test"), "RCPT"), CancellationToken.None);
        Assert.Equal("450 4.1.8 <a@nothing.test>: Sender address rejected: Domain not found", decision.Reply?.ToString());
        Assert.Contains(trace.Events, e => e.Kind == "dns" && e.Name == "MX" && e.Argument == "nothing.test");
        Assert.Contains(trace.Events, e => e.Kind == "restriction" && e.Name == "reject_unknown_sender_domain" && e.Reply == decision.Reply);
    }

    private async Task<string?> ReverseAccess(string table, string client = "127.0.0.9")
    {
        var s = _h.Configure($"smtpd_client_restrictions = check_reverse_client_hostname_access {table}");
        var evaluator = new RestrictionEvaluator(s, s.Restrictions, _dns.Server.Resolver(), _h.Log, _ => true)
        {
            ReverseLookup = new PtrLookup([new IPEndPoint(IPAddress.Loopback, _dns.Server.Port)], TimeSpan.FromSeconds(2)).ReverseNameAsync,
        };
        var decision = await evaluator.CheckRecipientAsync(new PolicyRequest(PolicyHarness.Session(client, name: "unknown"),
            SmtpPath.FromAddress("a@mail.good.test"), SmtpPath.FromAddress("user@example.test"), "RCPT"), CancellationToken.None);
        return decision.Reply?.ToString();
    }

    [Fact]
    public async Task Reverse_client_hostname_access_looks_up_the_unverified_ptr_name_then_the_address()
    {
        Assert.Equal("554 5.7.1 <ptr.good.test>: Client host rejected: Access denied",
            await ReverseAccess(_h.Hash("rev1", "good.test REJECT\n")));
        Assert.Equal("554 5.7.1 <unknown>: Client host rejected: Access denied",
            await ReverseAccess(_h.Hash("rev2", "127.0.0.8 REJECT\n"), client: "127.0.0.8"));
        Assert.Null(await ReverseAccess(_h.Hash("rev3", "other.test REJECT\n")));
    }

    [Fact]
    public async Task Reverse_client_hostname_access_may_not_allowlist()
    {
        Assert.Equal("451 4.3.5 Server configuration error", await ReverseAccess(_h.Hash("rev4", "ptr.good.test OK\n")));
        Assert.Contains(_h.Lines, l => l.Contains("restriction check_reverse_client_hostname_access returns OK for ptr.good.test"));
    }
}
