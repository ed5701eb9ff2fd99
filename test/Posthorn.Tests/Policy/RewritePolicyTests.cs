using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>access(5) PREPEND, REDIRECT and FILTER; virtual alias domains and relocated users at RCPT TO.</summary>
public sealed class RewritePolicyTests : IDisposable
{
    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task Prepend_redirect_and_filter_are_carried_in_the_accepting_decision()
    {
        string table = _h.Hash("access", """
            tagged@x.example     PREPEND X-Tag: from tagged sender
            moved@x.example      REDIRECT archive@example.test
            scan@x.example       FILTER smtp:[127.0.0.1]:10025
            bad@x.example        PREPEND no header here
            """);
        string cf(string s) => $"smtpd_sender_restrictions = check_sender_access {table}";

        var d = await _h.DecideAsync(cf(""), sender: "tagged@x.example");
        Assert.Null(d.Reply);
        Assert.Equal(["X-Tag: from tagged sender"], d.Prepend);

        d = await _h.DecideAsync(cf(""), sender: "moved@x.example");
        Assert.Equal("archive@example.test", d.Redirect);
        Assert.Contains(_h.Lines, l => l.StartsWith("NOQUEUE: redirect: RCPT from client.example[192.0.2.7]: <moved@x.example>: Sender address triggers REDIRECT archive@example.test;"));

        d = await _h.DecideAsync(cf(""), sender: "scan@x.example");
        Assert.Equal("smtp:[127.0.0.1]:10025", d.Filter);

        d = await _h.DecideAsync(cf(""), sender: "bad@x.example");
        Assert.Empty(d.Prepend);
        Assert.Contains(_h.Lines, l => l.Contains("warning: access table: PREPEND action without valid header text"));
    }

    [Fact]
    public async Task Virtual_alias_domain_rejects_recipients_not_in_virtual_alias_maps()
    {
        string v = _h.Hash("virtual", """
            virt.example        anything
            info@virt.example   user@example.test
            """);
        string cf = $"virtual_alias_maps = {v}";
        Assert.Null(await _h.RcptAsync(cf, rcpt: "info@virt.example"));
        Assert.Equal("550 5.1.1 <nobody@virt.example>: Recipient address rejected: User unknown in virtual alias table",
            await _h.RcptAsync(cf, rcpt: "nobody@virt.example"));
        // A virtual alias domain is an authorized destination: no relay refusal for outside clients.
        Assert.Null(await _h.RcptAsync(cf + "\nsmtpd_relay_restrictions = reject_unauth_destination", rcpt: "info@virt.example"));
    }

    [Fact]
    public async Task Relocated_users_get_550_5_1_6_with_the_new_address()
    {
        string r = _h.Hash("relocated", """
            old@example.test    new@elsewhere.example
            @gone.example       contact@example.test
            """);
        string cf = $"relocated_maps = {r}\nrelay_domains = gone.example";
        Assert.Equal("550 5.1.6 <old@example.test>: Recipient address rejected: User has moved to new@elsewhere.example",
            await _h.RcptAsync(cf, rcpt: "old@example.test"));
        Assert.Equal("550 5.1.6 <x@gone.example>: Recipient address rejected: User has moved to contact@example.test",
            await _h.RcptAsync(cf, rcpt: "x@gone.example"));
        Assert.Null(await _h.RcptAsync(cf, rcpt: "user@example.test"));
        // A moved user is no longer in the local recipient table: the relocation notice still comes first.
        string r2 = _h.Hash("relocated2", "nobody@example.test  nobody@new.example\n");
        Assert.Equal("550 5.1.6 <nobody@example.test>: Recipient address rejected: User has moved to nobody@new.example",
            await _h.RcptAsync($"relocated_maps = {r2}", rcpt: "nobody@example.test"));
    }
}
