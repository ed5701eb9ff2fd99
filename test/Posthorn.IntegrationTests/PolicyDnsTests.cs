using Posthorn.IntegrationTests.TestKit;
using Posthorn.Tests.Outbound;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the administrator turns on the restrictions that need the DNS or the client's manners
/// (reject_unknown_sender_domain, reject_unauth_pipelining, smtpd_reject_unlisted_sender, smtpd_etrn_restrictions)
/// and a client outside mynetworks meets them through the real daemon, with dnsmasq on loopback as the DNS.</summary>
public sealed class PolicyDnsTests(ITestOutputHelper output)
{
    private static readonly string LocalRcpt = $"{TestConfig.User}@{TestConfig.Myhostname}";

    /// <summary>A mynetworks that does not contain 127.0.0.1: the test client is "outside".</summary>
    private const string OutsideNetworks = "192.0.2.0/24";

    [Fact]
    public async Task Unknown_sender_domain_is_refused_at_rcpt_and_a_domain_with_mx_is_delivered()
    {
        using var dns = new LoopbackDns("--mx-host=exists.test,mx.exists.test,10", "--host-record=mx.exists.test,192.0.2.25",
            "--mx-host=nomail.test,.,0");
        var cfg = (TestConfig.Default with { Mynetworks = OutsideNetworks })
            .With("posthorn_dns_servers", $"127.0.0.1:{dns.Port}")
            .With("smtpd_sender_restrictions", "reject_unknown_sender_domain");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var smtp = await d.ConnectAsync();
        smtp.Expect(await smtp.CommandAsync("EHLO client.example"), 250);
        // smtpd_delay_reject = yes: MAIL FROM is accepted, the refusal comes at RCPT TO.
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@nothing.test>"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "450 4.1.8 <alice@nothing.test>: Sender address rejected: Domain not found");
        await d.WaitForLogAsync(l => l.Contains("NOQUEUE: reject: RCPT from ", StringComparison.Ordinal)
            && l.Contains("450 4.1.8 <alice@nothing.test>: Sender address rejected: Domain not found; from=<alice@nothing.test>", StringComparison.Ordinal),
            "reject line");
        smtp.Expect(await smtp.CommandAsync("RSET"), 250);
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@nomail.test>"), 250);
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"),
            "550 5.7.27 <alice@nomail.test>: Sender address rejected: Domain nomail.test does not accept mail (nullMX)");
        smtp.Expect(await smtp.CommandAsync("RSET"), 250);
        string token = Token.New();
        await smtp.SendMailAsync("alice@exists.test", LocalRcpt, Token.Message("known " + token, "body " + token));
        await d.WaitForMboxAsync(TestConfig.User, "body " + token);
    }

    [Fact]
    public async Task Commands_sent_in_one_write_before_ehlo_was_answered_are_refused_by_reject_unauth_pipelining()
    {
        var cfg = (TestConfig.Default with { Mynetworks = OutsideNetworks })
            .With("smtpd_client_restrictions", "reject_unauth_pipelining");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using (var bad = await d.ConnectAsync())
        {
            // One write: EHLO and MAIL FROM, without waiting for the EHLO reply that would announce PIPELINING.
            await bad.SendRawAsync("EHLO spammer.example\r\nMAIL FROM:<bulk@sender.example>\r\n");
            bad.Expect(await bad.ReadReplyAsync(), 250);
            bad.Expect(await bad.ReadReplyAsync(), "250 2.1.0 Ok");
            var refused = await bad.CommandAsync($"RCPT TO:<{LocalRcpt}>");
            Assert.Equal(503, refused.Code);
            Assert.EndsWith("]>: Client host rejected: Improper use of SMTP command pipelining", refused.Last);
            Assert.StartsWith("503 5.5.0 <", refused.Last);
            await d.WaitForLogAsync(l => l.Contains("improper command pipelining after EHLO from ", StringComparison.Ordinal)
                && l.EndsWith(": MAIL FROM:<bulk@sender.example>", StringComparison.Ordinal), "pipelining line");
        }
        // A client that waits for the EHLO reply may pipeline the rest (RFC 2920).
        await using var good = await d.ConnectAsync();
        good.Expect(await good.CommandAsync("EHLO client.example"), 250);
        await good.SendRawAsync($"MAIL FROM:<alice@sender.example>\r\nRCPT TO:<{LocalRcpt}>\r\n");
        good.Expect(await good.ReadReplyAsync(), "250 2.1.0 Ok");
        good.Expect(await good.ReadReplyAsync(), "250 2.1.5 Ok");
    }

    [Fact]
    public async Task Unlisted_local_sender_is_refused_and_etrn_meets_its_restrictions()
    {
        var cfg = (TestConfig.Default with { Mynetworks = OutsideNetworks })
            .With("smtpd_reject_unlisted_sender", "yes")
            .With("smtpd_etrn_restrictions", "reject");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var smtp = await d.ConnectAsync();
        smtp.Expect(await smtp.CommandAsync("EHLO client.example"), 250);
        string stranger = $"no-such-user-{Token.New()}@{TestConfig.Myhostname}".ToLowerInvariant();
        smtp.Expect(await smtp.CommandAsync($"MAIL FROM:<{stranger}>"), 250);
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"),
            $"550 5.1.0 <{stranger}>: Sender address rejected: User unknown in local recipient table");
        smtp.Expect(await smtp.CommandAsync("RSET"), 250);
        // A known local sender passes.
        smtp.Expect(await smtp.CommandAsync($"MAIL FROM:<{LocalRcpt}>"), 250);
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "250 2.1.5 Ok");
        smtp.Expect(await smtp.CommandAsync("RSET"), 250);
        smtp.Expect(await smtp.CommandAsync("ETRN example.org"), "554 5.7.1 <example.org>: Etrn command rejected: Access denied");
    }
}
