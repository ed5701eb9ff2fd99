using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>Postfix postconf(5) smtp_tls_policy_maps: the value syntax and the lookup keys.</summary>
public sealed class SmtpTlsPolicyTests
{
    [Theory]
    [InlineData("none", SmtpTlsLevel.None)]
    [InlineData("may", SmtpTlsLevel.May)]
    [InlineData("encrypt protocols=>=TLSv1.2", SmtpTlsLevel.Encrypt)]
    [InlineData("VERIFY", SmtpTlsLevel.Verify)]
    [InlineData("secure", SmtpTlsLevel.Secure)]
    [InlineData("dane", SmtpTlsLevel.Encrypt)]
    public void A_level_with_attributes_parses(string value, SmtpTlsLevel level)
    {
        Assert.True(SmtpTlsPolicy.TryParse(value, out var policy, out _));
        Assert.Equal(level, policy.Level);
        Assert.Null(policy.Match);
    }

    [Fact]
    public void Match_takes_a_colon_separated_list_for_verify_and_secure()
    {
        Assert.True(SmtpTlsPolicy.TryParse("secure match=nexthop:.example.test:mx.other.test", out var policy, out _));
        Assert.Equal(["nexthop", ".example.test", "mx.other.test"], policy.Match);
        Assert.True(SmtpTlsPolicy.TryParse("verify match=hostname", out var verify, out _));
        Assert.Equal(["hostname"], verify.Match);
    }

    [Theory]
    [InlineData("", "empty TLS policy")]
    [InlineData("fingerprint match=AA:BB", "invalid TLS security level \"fingerprint\"")]
    [InlineData("mandatory", "invalid TLS security level \"mandatory\"")]
    [InlineData("verify hostname", "malformed TLS policy attribute \"hostname\"")]
    public void An_invalid_policy_is_refused_with_a_reason(string value, string reason)
    {
        Assert.False(SmtpTlsPolicy.TryParse(value, out _, out string? error));
        Assert.Equal(reason, error);
    }

    [Fact]
    public void A_domain_is_looked_up_then_its_parents_with_a_leading_dot()
    {
        Assert.Equal(["mail.example.test", ".example.test", ".test"], SmtpTlsPolicy.LookupKeys(new NextHop("mail.example.test", 25, SkipMx: false)));
    }

    [Fact]
    public void A_bracketed_or_ported_next_hop_is_looked_up_verbatim_only()
    {
        Assert.Equal(["[relay.example.test]:587"], SmtpTlsPolicy.LookupKeys(new NextHop("relay.example.test", 587, SkipMx: true)));
        Assert.Equal(["[relay.example.test]"], SmtpTlsPolicy.LookupKeys(new NextHop("relay.example.test", 25, SkipMx: true)));
        Assert.Equal(["example.test:2525"], SmtpTlsPolicy.LookupKeys(new NextHop("example.test", 2525, SkipMx: false)));
    }
}
