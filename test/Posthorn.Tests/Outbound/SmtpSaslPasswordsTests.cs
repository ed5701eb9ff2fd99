using Posthorn.Config.Tables;
using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>Postfix smtp_sasl_password_maps: the remote host name first, then the next hop as written
/// (SASL_README: "[" "]" and a non-default port must appear in the table as in relayhost).</summary>
public sealed class SmtpSaslPasswordsTests
{
    private static Func<string, string?> Table(string inline)
    {
        var table = LookupTables.Open($"inline:{{ {inline} }}", new LookupTableOptions());
        return key => table.TryLookup(key, out var v) ? v : null;
    }

    [Fact]
    public void The_keys_are_the_host_name_then_the_next_hop_in_its_written_form()
    {
        Assert.Equal(["mail.isp.test", "[mail.isp.test]:587"], SmtpSaslPasswords.Keys("mail.isp.test", new NextHop("mail.isp.test", 587, SkipMx: true)));
        Assert.Equal(["mail.isp.test", "[mail.isp.test]"], SmtpSaslPasswords.Keys("mail.isp.test", new NextHop("mail.isp.test", 25, SkipMx: true)));
        Assert.Equal(["mx1.example.test", "example.test"], SmtpSaslPasswords.Keys("mx1.example.test", new NextHop("example.test", 25, SkipMx: false)));
        Assert.Equal(["mx1.example.test"], SmtpSaslPasswords.Keys("mx1.example.test", null));
    }

    [Fact]
    public void The_host_name_entry_wins_over_the_next_hop_entry()
    {
        var lookup = Table("[mail.isp.test]:587=byhop:one, mail.isp.test=byhost:two");
        Assert.True(SmtpSaslPasswords.TryFind(lookup, "mail.isp.test", new NextHop("mail.isp.test", 587, SkipMx: true), out var user, out var password));
        Assert.Equal(("byhost", "two"), (user, password));
    }

    [Fact]
    public void A_bracketed_relay_with_a_port_is_found_only_under_that_exact_form()
    {
        var lookup = Table("[relay.isp.test]:587=alice:s3cret:with:colons");
        var hop = new NextHop("relay.isp.test", 587, SkipMx: true);
        Assert.True(SmtpSaslPasswords.TryFind(lookup, "relay.isp.test", hop, out var user, out var password));
        // The value splits at the first colon only.
        Assert.Equal(("alice", "s3cret:with:colons"), (user, password));
        Assert.False(SmtpSaslPasswords.TryFind(lookup, "relay.isp.test", hop with { Port = 25 }, out _, out _));
        Assert.False(SmtpSaslPasswords.TryFind(lookup, "relay.isp.test", hop with { SkipMx = false }, out _, out _));
    }

    [Fact]
    public void A_domain_next_hop_is_found_after_its_mx_host_misses()
    {
        var lookup = Table("example.test=bob:pw");
        Assert.True(SmtpSaslPasswords.TryFind(lookup, "mx1.example.test", new NextHop("example.test", 25, SkipMx: false), out var user, out _));
        Assert.Equal("bob", user);
        Assert.False(SmtpSaslPasswords.TryFind(lookup, "mx1.example.test", new NextHop("other.test", 25, SkipMx: false), out _, out _));
    }

    [Fact]
    public void A_table_that_cannot_answer_throws_so_the_delivery_is_deferred()
    {
        var table = LookupTables.Open("fail:broken", new LookupTableOptions());
        Func<string, string?> lookup = key => table.TryLookup(key, out var v) ? v : null;
        Assert.Throws<LookupTableException>(() => SmtpSaslPasswords.TryFind(lookup, "mx.test", null, out _, out _));
    }
}
