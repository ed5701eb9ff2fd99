using Posthorn.Core;
using Posthorn.Daemon.Policy;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>The restriction lists with smtpd_delay_reject = yes: wording per list, evaluation order,
/// permit ending only its own list, the defer_if_*/warn_if_reject modifiers, configuration errors.</summary>
public sealed class RestrictionListTests : IDisposable
{
    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Theory]
    [InlineData("smtpd_client_restrictions = reject", "554 5.7.1 <client.example[192.0.2.7]>: Client host rejected: Access denied")]
    [InlineData("smtpd_helo_restrictions = reject", "554 5.7.1 <client.example>: Helo command rejected: Access denied")]
    [InlineData("smtpd_sender_restrictions = reject", "554 5.7.1 <someone@sender.example>: Sender address rejected: Access denied")]
    [InlineData("smtpd_relay_restrictions = reject", "554 5.7.1 <user@example.test>: Recipient address rejected: Access denied")]
    [InlineData("smtpd_recipient_restrictions = reject", "554 5.7.1 <user@example.test>: Recipient address rejected: Access denied")]
    [InlineData("smtpd_sender_restrictions = defer", "450 4.7.1 <someone@sender.example>: Sender address rejected: Access denied")]
    [InlineData("smtpd_client_restrictions = defer\ndefer_code = 421", "421 4.7.1 <client.example[192.0.2.7]>: Client host rejected: Access denied")]
    [InlineData("smtpd_helo_restrictions = reject\nreject_code = 550", "550 5.7.1 <client.example>: Helo command rejected: Access denied")]
    public async Task A_plain_reject_or_defer_names_what_its_list_is_about(string mainCf, string expected) =>
        Assert.Equal(expected, await _h.RcptAsync(mainCf));

    [Fact]
    public async Task Client_helo_and_sender_lists_run_at_rcpt_in_that_order()
    {
        Assert.StartsWith("554 5.7.1 <client.example[192.0.2.7]>: Client host",
            await _h.RcptAsync("smtpd_client_restrictions = reject\nsmtpd_helo_restrictions = reject\nsmtpd_sender_restrictions = reject"));
        Assert.StartsWith("554 5.7.1 <client.example>: Helo command",
            await _h.RcptAsync("smtpd_helo_restrictions = reject\nsmtpd_sender_restrictions = reject\nsmtpd_recipient_restrictions = reject"));
        Assert.StartsWith("554 5.7.1 <someone@sender.example>: Sender address",
            await _h.RcptAsync("smtpd_sender_restrictions = reject\nsmtpd_recipient_restrictions = reject"));
        // The relay list runs before the recipient list.
        Assert.Equal("554 5.7.1 <far@remote.example>: Relay access denied", await _h.RcptAsync(
            "smtpd_relay_restrictions = reject_unauth_destination\nsmtpd_recipient_restrictions = reject", rcpt: "far@remote.example"));
    }

    [Fact]
    public async Task A_permit_ends_only_its_own_list()
    {
        Assert.StartsWith("554 5.7.1 <someone@sender.example>: Sender address rejected",
            await _h.RcptAsync("smtpd_client_restrictions = permit\nsmtpd_sender_restrictions = reject"));
        // permit_mynetworks in the client list does not make a remote recipient relayable from outside.
        Assert.Equal("454 4.7.1 <far@remote.example>: Relay access denied",
            await _h.RcptAsync("smtpd_client_restrictions = permit", rcpt: "far@remote.example"));
        Assert.Null(await _h.RcptAsync("smtpd_recipient_restrictions = permit, reject"));
    }

    [Fact]
    public async Task Relay_control_by_mynetworks_sasl_and_destination()
    {
        const string strict = "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination";
        Assert.Equal("554 5.7.1 <far@remote.example>: Relay access denied", await _h.RcptAsync(strict, rcpt: "far@remote.example"));
        Assert.Null(await _h.RcptAsync(strict, rcpt: "far@remote.example", session: PolicyHarness.Session("127.0.0.1")));
        Assert.Null(await _h.RcptAsync(strict, rcpt: "far@remote.example", session: PolicyHarness.Session(saslUser: "alice")));
        Assert.Null(await _h.RcptAsync(strict));
        Assert.Null(await _h.RcptAsync(strict + "\nrelay_domains = remote.example", rcpt: "far@remote.example"));
        Assert.Equal("454 4.7.1 <far@remote.example>: Relay access denied", await _h.RcptAsync("", rcpt: "far@remote.example"));
    }

    [Fact]
    public async Task Unlisted_recipient_is_refused_after_the_lists_and_by_the_restriction()
    {
        const string unknown = "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in local recipient table";
        Assert.Equal(unknown, await _h.RcptAsync("", rcpt: "nobody@example.test"));
        // As a restriction it runs where it is listed: before a later reject.
        Assert.Equal(unknown, await _h.RcptAsync("smtpd_client_restrictions = reject_unlisted_recipient, reject", rcpt: "nobody@example.test"));
        Assert.StartsWith("554 5.7.1 <client.example[192.0.2.7]>", await _h.RcptAsync(
            "smtpd_client_restrictions = reject_unlisted_recipient, reject", rcpt: "user@example.test"));
    }

    [Fact]
    public async Task Defer_if_permit_defers_only_when_the_outcome_is_a_permit()
    {
        Assert.Equal("450 4.7.0 <client.example[192.0.2.7]>: Client host rejected: defer_if_permit requested",
            await _h.RcptAsync("smtpd_client_restrictions = defer_if_permit, permit"));
        Assert.Equal("554 5.7.1 <someone@sender.example>: Sender address rejected: Access denied",
            await _h.RcptAsync("smtpd_client_restrictions = defer_if_permit\nsmtpd_sender_restrictions = reject"));
    }

    [Fact]
    public async Task Defer_if_reject_turns_a_later_reject_into_a_deferral()
    {
        Assert.Equal("450 4.7.0 <client.example[192.0.2.7]>: Client host rejected: defer_if_reject requested",
            await _h.RcptAsync("smtpd_client_restrictions = defer_if_reject\nsmtpd_sender_restrictions = reject"));
        Assert.Null(await _h.RcptAsync("smtpd_client_restrictions = defer_if_reject, permit"));
    }

    [Fact]
    public async Task Warn_if_reject_logs_the_next_rejection_instead_of_sending_it()
    {
        Assert.Null(await _h.RcptAsync("smtpd_helo_restrictions = warn_if_reject, reject"));
        Assert.Contains("NOQUEUE: reject_warning: RCPT from client.example[192.0.2.7]: 554 5.7.1 <client.example>: Helo command rejected: "
            + "Access denied; from=<someone@sender.example> to=<user@example.test> proto=ESMTP helo=<client.example>", _h.Lines);
        // A restriction class after warn_if_reject is softened as a whole.
        Assert.Null(await _h.RcptAsync("smtpd_restriction_classes = strict\nstrict = reject_non_fqdn_helo_hostname, reject\n"
            + "smtpd_helo_restrictions = warn_if_reject, strict", session: PolicyHarness.Session(helo: "localhost")));
        Assert.Contains(_h.Lines, l => l.StartsWith("NOQUEUE: reject_warning: RCPT from client.example[192.0.2.7]: 504 5.5.2 <localhost>"));
        // Only the next restriction is softened.
        Assert.StartsWith("554 5.7.1 <client.example>", await _h.RcptAsync("smtpd_helo_restrictions = warn_if_reject, reject, reject"));
    }

    [Fact]
    public async Task An_unknown_restriction_is_a_server_configuration_error_never_a_permit()
    {
        var decision = await _h.DecideAsync("smtpd_recipient_restrictions = permit_everybody_please, permit");
        Assert.Equal("451 4.3.5 Server configuration error", decision.Reply?.ToString());
        Assert.True(decision.ConfigurationError);
        Assert.Contains("warning: unknown smtpd restriction: \"permit_everybody_please\"", _h.Lines);
        Assert.Equal("451 4.3.5 Server configuration error", await _h.RcptAsync("smtpd_sender_restrictions = check_sender_access"));
    }

    [Fact]
    public async Task Restriction_classes_are_lists_named_in_main_cf()
    {
        const string classes = "smtpd_restriction_classes = strict, open\nstrict = reject_non_fqdn_helo_hostname, permit\nopen = permit";
        Assert.Equal("504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
            await _h.RcptAsync(classes + "\nsmtpd_helo_restrictions = strict", session: PolicyHarness.Session(helo: "localhost")));
        // A class's permit ends the list that named it, like any permit.
        Assert.Null(await _h.RcptAsync(classes + "\nsmtpd_sender_restrictions = open, reject"));
    }

    [Fact]
    public async Task Data_restrictions_run_at_data_with_their_own_wording()
    {
        var s = _h.Configure("smtpd_data_restrictions = reject\nsmtpd_recipient_restrictions = permit");
        var evaluator = _h.Evaluator(s);
        var request = new PolicyRequest(PolicyHarness.Session(), SmtpPath.FromAddress("a@sender.example"), null, "DATA");
        Assert.Null((await evaluator.CheckRecipientAsync(request with { Recipient = SmtpPath.FromAddress("user@example.test"), Command = "RCPT" },
            CancellationToken.None)).Reply);
        Assert.Equal("554 5.7.1 <DATA>: Data command rejected: Access denied",
            (await evaluator.CheckDataAsync(request, CancellationToken.None)).Reply?.ToString());
        var open = _h.Evaluator(_h.Configure(""));
        Assert.Null((await open.CheckDataAsync(request, CancellationToken.None)).Reply);
    }
}
