using Posthorn.Core;
using Posthorn.Daemon.Policy;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>Open-relay address forms, decided as Postfix 3.7 decides them (the expected replies were taken from
/// a real Postfix with the same main.cf: mydestination = $myhostname, example.test, localhost, a client outside
/// mynetworks, smtpd_relay_restrictions ending in reject_unauth_destination).</summary>
public sealed class RelayAddressTests : IDisposable
{
    private const string Strict = """
        mydestination = $myhostname, example.test, localhost
        inet_interfaces = 127.0.0.1
        smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
        """;

    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>Postfix smtpd.c extract_addr: the reply shows the address in internal form, quotes removed.</summary>
    private static string Denied(string rcpt) => $"554 5.7.1 <{rcpt.Replace("\"", "", StringComparison.Ordinal)}>: Relay access denied";

    private const string BadSyntax = "501 5.1.3 Bad recipient address syntax";

    /// <summary>Recipient → the reply an outside client gets (null: accepted).</summary>
    public static TheoryData<string, string?> OutsideClient() => new()
    {
        { "user@example.test", null },
        { "user@other.example", Denied("user@other.example") },
        // allow_percent_hack: user%other@local is user@other.
        { "user%other.example@example.test", Denied("user%other.example@example.test") },
        // swap_bangpath: other!user@local is user@other; a!b!user goes to a with b!user routed on.
        { "other.example!user@example.test", Denied("other.example!user@example.test") },
        { "a.example!b.example!user@example.test", Denied("a.example!b.example!user@example.test") },
        // resolve_dequoted_address: a quoted @, % or ! is a routing operator all the same.
        { "\"user@other.example\"@example.test", Denied("\"user@other.example\"@example.test") },
        { "\"user%other.example\"@example.test", Denied("\"user%other.example\"@example.test") },
        { "\"other.example!user\"@example.test", Denied("\"other.example!user\"@example.test") },
        { "user@other.example@example.test", Denied("user@other.example@example.test") },
        { "user%other.example%example.test@example.test", Denied("user%other.example%example.test@example.test") },
        // A route left in the address (the SMTP parser strips "@local:" itself) still ends at the last domain.
        { "@example.test:user@other.example", Denied("@example.test:user@other.example") },
        // Local again after all the stripping: accepted, as Postfix does.
        { "user@example.test@example.test", null },
        { "\"@other.example:user\"@example.test", null },
        { "\"user\"@example.test", null },
        // Address literals: local only for our own interface addresses.
        { "user@[127.0.0.1]", null },
        { "user@[192.0.2.1]", Denied("user@[192.0.2.1]") },
        { "user@[IPv6:::1]", Denied("user@[IPv6:::1]") },
        // Case and a trailing dot change nothing.
        { "user@OTHER.EXAMPLE", Denied("user@OTHER.EXAMPLE") },
        { "user@other.example.", Denied("user@other.example.") },
        { "user@EXAMPLE.TEST", null },
        { "user@example.test.", null },
        { "user%other.example@EXAMPLE.TEST.", Denied("user%other.example@EXAMPLE.TEST.") },
        // Unqualified: @$myorigin is appended after the bang path or percent hack is applied.
        { "other.example!user", Denied("other.example!user") },
        { "user%other.example", Denied("user%other.example") },
        { "root", null },
        // Postfix smtpd_check_addr: an invalid resolved domain is a syntax error, before any restriction.
        { "user@127.0.0.1", BadSyntax },
        { "user@other.example%example.test", BadSyntax },
    };

    [Theory]
    [MemberData(nameof(OutsideClient))]
    public async Task An_outside_client_cannot_relay_through_any_address_form(string rcpt, string? expected) =>
        Assert.Equal(expected, await _h.RcptAsync(Strict, rcpt: rcpt));

    [Theory]
    [InlineData("user%other.example@example.test")]
    [InlineData("\"user@other.example\"@example.test")]
    [InlineData("other.example!user@example.test")]
    [InlineData("user@other.example")]
    public async Task Mynetworks_and_authenticated_clients_may_relay_them(string rcpt)
    {
        Assert.Null(await _h.RcptAsync(Strict, rcpt: rcpt, session: PolicyHarness.Session("127.0.0.1")));
        Assert.Null(await _h.RcptAsync(Strict, rcpt: rcpt, session: PolicyHarness.Session(saslUser: "alice")));
    }

    [Fact]
    public async Task The_default_relay_restrictions_defer_with_454()
    {
        string cfg = "mydestination = $myhostname, example.test, localhost";
        Assert.Equal("454 4.7.1 <user%other.example@example.test>: Relay access denied",
            await _h.RcptAsync(cfg, rcpt: "user%other.example@example.test"));
    }

    [Theory]
    // Without the hacks the address stays local but keeps an operator in its local part: routed, still refused.
    [InlineData("allow_percent_hack = no", "user%other.example@example.test", false)]
    [InlineData("swap_bangpath = no", "other.example!user@example.test", false)]
    [InlineData("resolve_dequoted_address = no", "\"user@other.example\"@example.test", false)]
    // allow_untrusted_routing = yes lets such a local address through (it is delivered to a local user).
    [InlineData("allow_percent_hack = no\nallow_untrusted_routing = yes", "user%other.example@example.test", true)]
    [InlineData("resolve_dequoted_address = no\nallow_untrusted_routing = yes", "\"user@other.example\"@example.test", true)]
    // relay_domains: what resolves there may be relayed, unless the rest of the address routes it on.
    [InlineData("relay_domains = other.example", "user%other.example@example.test", true)]
    [InlineData("relay_domains = other.example", "third.example!user@other.example", false)]
    [InlineData("relay_domains = other.example", "\"user@third.example\"@other.example", false)]
    [InlineData("relay_domains = other.example\nallow_untrusted_routing = yes", "third.example!user@other.example", true)]
    public async Task The_rewrite_parameters_decide_as_postconf_5_says(string extra, string rcpt, bool accepted)
    {
        string? reply = await _h.RcptAsync(Strict + "\n" + extra, rcpt: rcpt);
        if (accepted) Assert.Null(reply);
        else Assert.Equal(Denied(rcpt), reply);
    }

    /// <summary>The resolver alone: where each form really goes.</summary>
    [Theory]
    [InlineData("user%other@local", "user@other", false, false)]
    [InlineData("other!user@local", "user@other", false, false)]
    [InlineData("a!b!user@local", "b!user@a", true, false)]
    [InlineData("user@other@local", "user@other", false, false)]
    [InlineData("user@local@local", "user@local", false, true)]
    [InlineData("@local:user@other", "@local:user@other", true, false)]
    [InlineData("@other:user@local", "user@local", false, true)]
    [InlineData("USER@LOCAL.", "USER@LOCAL", false, true)]
    [InlineData("user", "user@local", false, true)]
    [InlineData("user%other", "user@other", false, false)]
    public void Resolve_strips_local_domains_and_applies_the_routing_operators(string address, string recipient, bool routed, bool authorized)
    {
        var relay = new RelayAddress(new RelayAddressOptions(MyOrigin: "local", MyHostname: "local"),
            d => d == "local" ? RelayDomainClass.Local : RelayDomainClass.Remote);
        var r = relay.Resolve(address);
        Assert.Equal(recipient, r.Recipient);
        Assert.Equal(routed, r.Routed);
        Assert.Equal(authorized, r.Authorized);
        Assert.False(r.SyntaxError);
    }

    [Fact]
    public void A_quoted_local_part_is_unquoted_before_resolving()
    {
        var relay = new RelayAddress(new RelayAddressOptions(MyOrigin: "local", MyHostname: "local"),
            d => d == "local" ? RelayDomainClass.Local : RelayDomainClass.Remote);
        var r = relay.Resolve(new SmtpPath("\"user\\@other\"", "local"));
        Assert.Equal("user@other", r.Recipient);
        Assert.False(r.Authorized);
        // resolve_numeric_domain = yes turns user@1.2.3.4 into user@[1.2.3.4] instead of a syntax error.
        Assert.True(relay.Resolve("user@192.0.2.1").SyntaxError);
        var numeric = new RelayAddress(new RelayAddressOptions(ResolveNumericDomain: true), _ => RelayDomainClass.Remote);
        Assert.Equal("user@[192.0.2.1]", numeric.Resolve("user@192.0.2.1").Recipient);
    }
}
