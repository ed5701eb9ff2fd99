using Posthorn.Core;
using Posthorn.Daemon.Policy;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>reject_unlisted_sender and smtpd_reject_unlisted_sender: a sender in our own domains must be a known
/// recipient there (the same tables as reject_unlisted_recipient).</summary>
public sealed class UnlistedSenderTests : IDisposable
{
    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task Unknown_local_sender_is_refused_with_550_5_1_0()
    {
        const string cf = "smtpd_sender_restrictions = reject_unlisted_sender";
        Assert.Equal("550 5.1.0 <nobody@example.test>: Sender address rejected: User unknown in local recipient table",
            await _h.RcptAsync(cf, sender: "nobody@example.test"));
        Assert.Null(await _h.RcptAsync(cf, sender: "user@example.test"));
        Assert.Null(await _h.RcptAsync(cf, sender: "nobody@elsewhere.example"));
        Assert.Null(await _h.RcptAsync(cf, sender: ""));
        Assert.Null(await _h.RcptAsync(cf, sender: "MAILER-DAEMON@example.test"));
    }

    [Fact]
    public async Task Smtpd_reject_unlisted_sender_checks_after_the_sender_list_even_when_it_permitted()
    {
        const string cf = "smtpd_reject_unlisted_sender = yes\nsmtpd_sender_restrictions = permit\nsmtpd_recipient_restrictions = reject";
        Assert.Equal("550 5.1.0 <nobody@example.test>: Sender address rejected: User unknown in local recipient table",
            await _h.RcptAsync(cf, sender: "nobody@example.test"));
        // The default is no: the recipient list decides.
        Assert.Equal("554 5.7.1 <user@example.test>: Recipient address rejected: Access denied",
            await _h.RcptAsync("smtpd_recipient_restrictions = reject", sender: "nobody@example.test"));
    }

    [Fact]
    public async Task Unknown_sender_in_a_virtual_alias_domain_is_refused()
    {
        string aliases = _h.Hash("virtual", "known@valias.test user@example.test\n");
        string cf = $"virtual_alias_domains = valias.test\nvirtual_alias_maps = {aliases}\nsmtpd_sender_restrictions = reject_unlisted_sender";
        Assert.Equal("550 5.1.0 <stranger@valias.test>: Sender address rejected: User unknown in virtual alias table",
            await _h.RcptAsync(cf, sender: "stranger@valias.test"));
        Assert.Null(await _h.RcptAsync(cf, sender: "known@valias.test"));
    }

    [Fact]
    public async Task Warn_if_reject_only_logs_and_leaves_the_implicit_check_to_refuse()
    {
        const string cf = "smtpd_sender_restrictions = warn_if_reject reject_unlisted_sender";
        Assert.Null(await _h.RcptAsync(cf, sender: "nobody@example.test"));
        Assert.Contains(_h.Lines, l => l.Contains("reject_warning: RCPT from client.example[192.0.2.7]: 550 5.1.0 <nobody@example.test>: "
            + "Sender address rejected: User unknown in local recipient table;"));
        Assert.NotNull(await _h.RcptAsync(cf + "\nsmtpd_reject_unlisted_sender = yes", sender: "nobody@example.test"));
    }
}
