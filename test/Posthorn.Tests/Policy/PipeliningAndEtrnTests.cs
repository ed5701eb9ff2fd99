using Posthorn.Core;
using Posthorn.Daemon.Policy;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>reject_unauth_pipelining and smtpd_etrn_restrictions, in the evaluator and through the SMTP engine with
/// smtpd's real sink.</summary>
public sealed class PipeliningAndEtrnTests : IDisposable
{
    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    private async Task<string?> Check(string mainCf, bool pipelined)
    {
        var s = _h.Configure(mainCf);
        var request = new PolicyRequest(PolicyHarness.Session(), SmtpPath.FromAddress("a@sender.example"),
            SmtpPath.FromAddress("user@example.test"), "RCPT") { ImproperPipelining = pipelined };
        return (await _h.Evaluator(s).CheckRecipientAsync(request, CancellationToken.None)).Reply?.ToString();
    }

    [Fact]
    public async Task Unauth_pipelining_refuses_only_a_session_that_pipelined_improperly()
    {
        const string cf = "smtpd_client_restrictions = reject_unauth_pipelining";
        Assert.Equal("503 5.5.0 <client.example[192.0.2.7]>: Client host rejected: Improper use of SMTP command pipelining",
            await Check(cf, pipelined: true));
        Assert.Null(await Check(cf, pipelined: false));
    }

    private async Task<string?> Etrn(string mainCf, string domain, string client = "192.0.2.7")
    {
        var s = _h.Configure(mainCf);
        var request = new PolicyRequest(PolicyHarness.Session(client), null, null, "ETRN") { EtrnDomain = domain };
        return (await _h.Evaluator(s).CheckEtrnAsync(request, CancellationToken.None)).Reply?.ToString();
    }

    [Fact]
    public async Task Etrn_restrictions_run_after_the_client_and_helo_lists()
    {
        string access = _h.Hash("etrn", "deny.test REJECT\n");
        string cf = $"smtpd_etrn_restrictions = check_etrn_access {access}";
        Assert.Equal("554 5.7.1 <deny.test>: Etrn command rejected: Access denied", await Etrn(cf, "deny.test"));
        Assert.Null(await Etrn(cf, "other.test"));
        Assert.Equal("554 5.7.1 <other.test>: Etrn command rejected: Access denied",
            await Etrn("smtpd_etrn_restrictions = permit_mynetworks, reject", "other.test"));
        Assert.Null(await Etrn("smtpd_etrn_restrictions = permit_mynetworks, reject", "other.test", client: "127.0.0.1"));
        Assert.Equal("554 5.7.1 <client.example[192.0.2.7]>: Client host rejected: Access denied",
            await Etrn("smtpd_client_restrictions = reject", "other.test"));
    }

    [Fact]
    public async Task Commands_sent_ahead_of_helo_mark_the_session_and_are_logged()
    {
        await using var d = new SmtpdSinkPolicyTests.Dialogue(_h, "smtpd_client_restrictions = reject_unauth_pipelining");
        await d.ReplyAsync();
        // One write, two commands, before the server said it supports PIPELINING (HELO, not EHLO).
        Assert.StartsWith("250 ", await d.CommandAsync("HELO client.example\r\nMAIL FROM:<a@sender.example>"));
        Assert.Equal("250 2.1.0 Ok", await d.ReplyAsync());
        Assert.Equal("503 5.5.0 <client.example[192.0.2.7]>: Client host rejected: Improper use of SMTP command pipelining",
            await d.CommandAsync("RCPT TO:<user@example.test>"));
        Assert.Contains(_h.Lines, l => l.Contains("improper command pipelining after HELO from client.example[192.0.2.7]: MAIL FROM:<a@sender.example>"));
    }

    [Fact]
    public async Task Pipelining_after_ehlo_is_allowed_but_not_past_data()
    {
        await using var d = new SmtpdSinkPolicyTests.Dialogue(_h, "smtpd_data_restrictions = reject_unauth_pipelining");
        await d.ReplyAsync();
        await d.CommandAsync("EHLO client.example");
        Assert.Equal("250 2.1.0 Ok", await d.CommandAsync("MAIL FROM:<a@sender.example>\r\nRCPT TO:<user@example.test>"));
        Assert.Equal("250 2.1.5 Ok", await d.ReplyAsync());
        // Content sent together with DATA, before the 354.
        Assert.Equal("503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining",
            await d.CommandAsync("DATA\r\nSubject: early"));
        Assert.DoesNotContain(_h.Lines, l => l.Contains("improper command pipelining after MAIL"));
        Assert.Contains(_h.Lines, l => l.Contains("improper command pipelining after DATA from client.example[192.0.2.7]: Subject: early"));
    }

    [Fact]
    public async Task Etrn_refused_by_a_restriction_gets_its_reply_and_a_reject_log_line()
    {
        await using var d = new SmtpdSinkPolicyTests.Dialogue(_h, "smtpd_etrn_restrictions = reject");
        await d.ReplyAsync();
        await d.CommandAsync("EHLO client.example");
        Assert.Equal("554 5.7.1 <example.org>: Etrn command rejected: Access denied", await d.CommandAsync("ETRN example.org"));
        Assert.Contains(_h.Lines, l => l.Contains("NOQUEUE: reject: ETRN from client.example[192.0.2.7]: 554 5.7.1 <example.org>: "
            + "Etrn command rejected: Access denied; proto=ESMTP helo=<client.example>"));
    }
}
