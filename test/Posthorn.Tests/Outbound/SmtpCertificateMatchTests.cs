using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>Postfix postconf(5) smtp_tls_verify_cert_match / smtp_tls_secure_cert_match and RFC 6125 §6.4.3 wildcards.</summary>
public sealed class SmtpCertificateMatchTests
{
    [Fact]
    public void Hostname_nexthop_and_dot_nexthop_become_the_mx_host_the_domain_and_its_subdomains()
    {
        Assert.Equal(["mx.hoster.test"], SmtpCertificateMatch.Patterns(["hostname"], "MX.Hoster.test.", "example.test"));
        Assert.Equal(["example.test", ".example.test"], SmtpCertificateMatch.Patterns(["nexthop", "dot-nexthop"], "mx.hoster.test", "Example.TEST"));
        // Any other word is a literal name; one starting with "." stands for its subdomains.
        Assert.Equal(["relay.isp.test", ".isp.test"], SmtpCertificateMatch.Patterns(["relay.isp.test", ".isp.test"], "h", "d"));
    }

    [Theory]
    [InlineData("mx.example.test", "mx.example.test", true)]
    [InlineData("MX.Example.Test.", "mx.example.test", true)]
    [InlineData("mx.example.test", "mx2.example.test", false)]
    [InlineData("*.example.test", "mx.example.test", true)]
    [InlineData("*.example.test", "example.test", false)]
    [InlineData("*.example.test", "a.mx.example.test", false)]
    [InlineData("m*.example.test", "mx.example.test", false)]
    [InlineData("mx.example.test", ".example.test", true)]
    [InlineData("a.mx.example.test", ".example.test", true)]
    [InlineData("example.test", ".example.test", false)]
    [InlineData("badexample.test", ".example.test", false)]
    [InlineData("*.example.test", ".example.test", true)]
    [InlineData("*.sub.example.test", ".example.test", true)]
    [InlineData("*.test", ".example.test", false)]
    public void A_certificate_name_matches_a_pattern_by_the_postfix_rules(string certName, string pattern, bool expected)
    {
        var patterns = SmtpCertificateMatch.Patterns([pattern], "unused", "unused");
        Assert.Equal(expected, SmtpCertificateMatch.Matches([certName], patterns));
    }

    [Fact]
    public void The_names_are_the_subject_alt_names_and_the_common_name_only_without_them()
    {
        using var ca = TestCertificates.CreateCa("Names CA");
        using var withSan = TestCertificates.Issue(ca, "mx.example.test", "*.other.test");
        Assert.Equal(["mx.example.test", "*.other.test"], SmtpCertificateMatch.Names(withSan));
        // The CA certificate has no subjectAltName: its CN is its only name.
        Assert.Equal(["names ca"], SmtpCertificateMatch.Names(ca));
    }

    [Fact]
    public void Secure_defaults_accept_the_domain_and_its_subdomains_but_not_an_mx_host_elsewhere()
    {
        var secure = SmtpCertificateMatch.Patterns(["nexthop", "dot-nexthop"], "mx.hoster.test", "example.test");
        Assert.True(SmtpCertificateMatch.Matches(["example.test"], secure));
        Assert.True(SmtpCertificateMatch.Matches(["mx.example.test"], secure));
        Assert.False(SmtpCertificateMatch.Matches(["mx.hoster.test"], secure));
        var verify = SmtpCertificateMatch.Patterns(["hostname"], "mx.hoster.test", "example.test");
        Assert.True(SmtpCertificateMatch.Matches(["mx.hoster.test"], verify));
        Assert.False(SmtpCertificateMatch.Matches(["example.test"], verify));
    }
}
