using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>check_*_access against real hash (postmap-compiled), cidr and regexp tables, and every access(5) action.</summary>
public sealed class AccessTableTests : IDisposable
{
    private const string SenderTable = """
        bad@x.example        REJECT
        text@x.example       REJECT go away
        dsn@x.example        REJECT 5.7.9 policy says no
        later@x.example      DEFER try later
        four@x.example       452 too busy
        five@x.example       550 no such sender here
        ok@x.example         OK
        number@x.example     123
        dunno@x.example      DUNNO
        x.example            REJECT whole domain
        fqdn@y.example       reject_non_fqdn_helo_hostname
        list@y.example       permit_mynetworks, reject
        classy@y.example     strict
        hold@y.example       HOLD
        discard@y.example    DISCARD
        warn@y.example       WARN watch this one
        <>                   REJECT no bounces here
        """;

    private readonly PolicyHarness _h = new();
    private readonly string _senders;

    public AccessTableTests() => _senders = _h.Hash("sender_access", SenderTable);

    public void Dispose() => _h.Dispose();

    private string Senders(string after = "permit") =>
        $"smtpd_restriction_classes = strict\nstrict = reject\nsmtpd_sender_restrictions = check_sender_access {_senders}, {after}";

    [Theory]
    [InlineData("bad@x.example", "554 5.7.1 <bad@x.example>: Sender address rejected: Access denied")]
    [InlineData("text@x.example", "554 5.7.1 <text@x.example>: Sender address rejected: go away")]
    [InlineData("dsn@x.example", "554 5.7.9 <dsn@x.example>: Sender address rejected: policy says no")]
    [InlineData("later@x.example", "450 4.7.1 <later@x.example>: Sender address rejected: try later")]
    [InlineData("four@x.example", "452 4.7.1 <four@x.example>: Sender address rejected: too busy")]
    [InlineData("five@x.example", "550 5.7.1 <five@x.example>: Sender address rejected: no such sender here")]
    [InlineData("other@x.example", "554 5.7.1 <other@x.example>: Sender address rejected: whole domain")]
    [InlineData("other@sub.x.example", "554 5.7.1 <other@sub.x.example>: Sender address rejected: whole domain")]
    [InlineData("fqdn@y.example", "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname")]
    [InlineData("list@y.example", "554 5.7.1 <list@y.example>: Sender address rejected: Access denied")]
    [InlineData("classy@y.example", "554 5.7.1 <classy@y.example>: Sender address rejected: Access denied")]
    [InlineData("", "554 5.7.1 <>: Sender address rejected: no bounces here")]
    public async Task Sender_table_actions_reply_as_postfix(string sender, string expected) =>
        Assert.Equal(expected, await _h.RcptAsync(Senders(), sender: sender, session: PolicyHarness.Session(helo: "localhost")));

    [Theory]
    [InlineData("ok@x.example")]
    [InlineData("number@x.example")]
    [InlineData("dunno@x.example")]
    public async Task Ok_numbers_and_dunno_stop_the_lookup_of_shorter_keys(string sender)
    {
        // OK and a number permit (the list's "reject" is never reached); DUNNO falls through to "permit".
        string after = sender.StartsWith("dunno") ? "permit" : "reject";
        Assert.Null(await _h.RcptAsync(Senders(after), sender: sender));
    }

    [Fact]
    public async Task A_restriction_list_result_is_evaluated_for_the_client_at_hand()
    {
        Assert.Null(await _h.RcptAsync(Senders(), sender: "list@y.example", session: PolicyHarness.Session("127.0.0.1")));
    }

    [Fact]
    public async Task Hold_marks_the_message_and_logs_it()
    {
        var d = await _h.DecideAsync(Senders(), sender: "hold@y.example");
        Assert.Null(d.Reply);
        Assert.True(d.Hold);
        Assert.Contains("NOQUEUE: hold: RCPT from client.example[192.0.2.7]: <hold@y.example>: Sender address triggers HOLD action; "
            + "from=<hold@y.example> to=<user@example.test> proto=ESMTP helo=<client.example>", _h.Lines);
    }

    [Fact]
    public async Task Discard_accepts_and_skips_the_remaining_lists()
    {
        var d = await _h.DecideAsync(Senders() + "\nsmtpd_recipient_restrictions = reject", sender: "discard@y.example");
        Assert.Null(d.Reply);
        Assert.True(d.Discard);
        Assert.Contains(_h.Lines, l => l.StartsWith("NOQUEUE: discard: RCPT from client.example[192.0.2.7]: <discard@y.example>: Sender address triggers DISCARD action;"));
    }

    [Fact]
    public async Task Warn_logs_and_goes_on()
    {
        Assert.StartsWith("554 5.7.1 <warn@y.example>: Sender address rejected: Access denied",
            await _h.RcptAsync(Senders("reject"), sender: "warn@y.example"));
        Assert.Contains(_h.Lines, l => l.StartsWith("NOQUEUE: warn: RCPT from client.example[192.0.2.7]: watch this one; from=<warn@y.example>"));
    }

    [Fact]
    public async Task A_sender_table_hit_reads_sender_address_in_any_list()
    {
        Assert.Equal("554 5.7.1 <bad@x.example>: Sender address rejected: Access denied",
            await _h.RcptAsync($"smtpd_recipient_restrictions = check_sender_access {_senders}", sender: "bad@x.example"));
    }

    [Fact]
    public async Task A_table_that_cannot_be_read_defers()
    {
        string missing = "hash:" + Path.Combine(_h.Dir, "no_such_table");
        Assert.Equal("451 4.3.0 <someone@sender.example>: Temporary lookup failure",
            await _h.RcptAsync($"smtpd_sender_restrictions = check_sender_access {missing}, permit"));
        Assert.Contains(_h.Lines, l => l.StartsWith("warning: ") && l.Contains("no_such_table"));
    }

    [Fact]
    public async Task Client_access_by_cidr_network()
    {
        string cidr = _h.Cidr("clients.cidr", "192.0.2.0/24 REJECT cidr says no\n198.51.100.0/24 OK\n");
        string cf = $"smtpd_client_restrictions = check_client_access {cidr}, reject";
        Assert.Equal("554 5.7.1 <client.example[192.0.2.7]>: Client host rejected: cidr says no", await _h.RcptAsync(cf));
        Assert.Null(await _h.RcptAsync(cf, session: PolicyHarness.Session("198.51.100.9")));
    }

    [Fact]
    public async Task Client_access_by_name_parent_domain_and_address_prefix_in_a_hash_table()
    {
        string hash = _h.Hash("clients", "bad.example REJECT by name\n203.0.113 REJECT by net\n");
        string cf = $"smtpd_client_restrictions = check_client_access {hash}";
        Assert.Equal("554 5.7.1 <host.bad.example[192.0.2.7]>: Client host rejected: by name",
            await _h.RcptAsync(cf, session: PolicyHarness.Session(name: "host.bad.example")));
        Assert.Equal("554 5.7.1 <unknown[203.0.113.5]>: Client host rejected: by net",
            await _h.RcptAsync(cf, session: PolicyHarness.Session("203.0.113.5", name: "unknown")));
        Assert.Null(await _h.RcptAsync(cf));
    }

    [Fact]
    public async Task Helo_access_by_regexp()
    {
        string re = _h.Regexp("helo.re", "/^(localhost|mail\\.example\\.test)$/ REJECT you are not me\n");
        string cf = $"smtpd_helo_restrictions = check_helo_access {re}";
        Assert.Equal("554 5.7.1 <mail.example.test>: Helo command rejected: you are not me",
            await _h.RcptAsync(cf, session: PolicyHarness.Session(helo: "mail.example.test")));
        Assert.Null(await _h.RcptAsync(cf));
        // Without HELO there is nothing to look up.
        Assert.Null(await _h.RcptAsync(cf, session: PolicyHarness.Session(helo: null)));
    }

    [Fact]
    public async Task Recipient_access_overrides_relay_denial_in_its_own_list_only()
    {
        string re = _h.Regexp("rcpt.re", "/^postmaster@/ OK\n/^blocked@/ 550 5.1.1 gone\n");
        string cf = $"smtpd_recipient_restrictions = check_recipient_access {re}, reject";
        Assert.Null(await _h.RcptAsync(cf, rcpt: "postmaster@example.test"));
        Assert.Equal("550 5.1.1 <blocked@example.test>: Recipient address rejected: gone", await _h.RcptAsync(cf, rcpt: "blocked@example.test"));
        // The relay list still runs first: OK in the recipient list does not open relaying.
        Assert.Equal("454 4.7.1 <postmaster@remote.example>: Relay access denied", await _h.RcptAsync(cf, rcpt: "postmaster@remote.example"));
    }
}
