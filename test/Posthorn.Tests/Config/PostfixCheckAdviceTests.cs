using Posthorn.Daemon.Tools;
using Xunit;

namespace Posthorn.Tests.Config;

/// <summary><c>postfix check</c> beyond Postfix: each common mistake gives one warning that says why and what to
/// change, and a warning never makes the exit status non-zero.</summary>
public class PostfixCheckAdviceTests
{
    private const string Smtp = "127.0.0.1:2525 inet n - n - - smtpd\n";

    private static string MainText(TestConfig t, string extra) =>
        $"queue_directory = {t.Directory}\nmail_owner = tester\ninet_interfaces = loopback-only\nmynetworks = 127.0.0.0/8 [::1]/128\n{extra}";

    private static (int Status, string[] Warnings) Check(string extra, string masterCf = Smtp, Action<TestConfig>? prepare = null)
    {
        using var t = new TestConfig("", masterCf);
        File.WriteAllText(t.MainCf, MainText(t, extra.Replace("{DIR}", t.Directory)));
        prepare?.Invoke(t);
        var stderr = new StringWriter();
        int status = PostfixCheck.Run(new ToolContext { Out = new StringWriter(), Err = stderr, GetEnv = _ => null },
            t.Directory, TestConfig.Host, name => name == "tester");
        return (status, stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static string Single(string extra, string masterCf = Smtp, Action<TestConfig>? prepare = null)
    {
        var (status, warnings) = Check(extra, masterCf, prepare);
        Assert.Equal(0, status);
        return Assert.Single(warnings);
    }

    [Fact]
    public void A_clean_configuration_gets_no_advice()
    {
        var (status, warnings) = Check("");
        Assert.Equal(0, status);
        Assert.Empty(warnings);
    }

    [Theory]
    [InlineData("class")]
    [InlineData("subnet")]
    public void Mynetworks_style_class_or_subnet_without_mynetworks_is_an_open_relay_risk(string style)
    {
        using var t = new TestConfig("", Smtp);
        File.WriteAllText(t.MainCf, $"queue_directory = {t.Directory}\nmail_owner = tester\ninet_interfaces = loopback-only\nmynetworks_style = {style}\n");
        var stderr = new StringWriter();
        int status = PostfixCheck.Run(new ToolContext { Out = new StringWriter(), Err = stderr, GetEnv = _ => null }, t.Directory, TestConfig.Host, n => n == "tester");
        Assert.Equal(0, status);
        Assert.Equal($"posthorn/postfix-script: warning: {t.MainCf}, line 4: mynetworks_style = {style} trusts (relays for) every host on this machine's "
            + (style == "class" ? "class A/B/C networks" : "subnets")
            + ": open-relay risk; set mynetworks to the networks you trust, or mynetworks_style = host\n", stderr.ToString());
    }

    [Theory]
    [InlineData("192.168.0.0/16", "65536 addresses")]
    [InlineData("0.0.0.0/0", "the whole Internet")]
    [InlineData("[2001:db8::]/32", "2^96 addresses")]
    public void Mynetworks_wider_than_a_slash_24_is_an_open_relay_risk(string network, string width)
    {
        var (status, warnings) = Check($"mynetworks = 127.0.0.0/8, 192.0.2.0/24, {network}\n");
        Assert.Equal(0, status);
        // The other warning is "overriding earlier entry" for the second mynetworks line.
        string w = Assert.Single(warnings, w => !w.Contains("overriding earlier entry", StringComparison.Ordinal));
        Assert.EndsWith($", line 5: mynetworks entry {network} trusts {width}: open-relay risk; list only the networks of your own clients (a /24 or narrower)", w);
    }

    [Fact]
    public void A_domain_in_both_mydestination_and_virtual_alias_domains_is_named()
    {
        string w = Single("mydestination = localhost, example.com\nvirtual_alias_domains = example.com, other.example\n");
        Assert.EndsWith(", line 6: do not list domain example.com in BOTH mydestination and virtual_alias_domains: mail for it would go to local users; remove it from one of them", w);
    }

    [Fact]
    public void Home_mailbox_Maildir_without_slash_is_an_mbox_file()
    {
        string w = Single("home_mailbox = Maildir\n");
        Assert.EndsWith(", line 5: home_mailbox = Maildir delivers to an mbox file named Maildir; write Maildir/ (with the slash) for Maildir delivery", w);
        Assert.Empty(Check("home_mailbox = Maildir/\n").Warnings);
    }

    [Fact]
    public void Mailbox_size_limit_below_message_size_limit_is_named()
    {
        string w = Single("message_size_limit = 20000000\nmailbox_size_limit = 10000000\n");
        Assert.EndsWith(", line 6: mailbox_size_limit (10000000) is smaller than message_size_limit (20000000): a message that was accepted could never be delivered; raise mailbox_size_limit or set it to 0", w);
        Assert.Empty(Check("message_size_limit = 20000000\nmailbox_size_limit = 0\n").Warnings);
    }

    [Fact]
    public void Smtpd_forbid_bare_newline_no_allows_smuggling()
    {
        var (status, warnings) = Check("smtpd_forbid_bare_newline = no\n");
        Assert.Equal(0, status);
        Assert.Contains(warnings, w => w.EndsWith(", line 5: smtpd_forbid_bare_newline = no accepts a bare newline as end of line, which allows SMTP smuggling; remove the setting or set it to yes", StringComparison.Ordinal));
    }

    [Fact]
    public void Relay_restrictions_without_a_reject_make_an_open_relay()
    {
        string w = Single("smtpd_relay_restrictions = permit_mynetworks, permit\nsmtpd_recipient_restrictions = permit_mynetworks\n");
        Assert.EndsWith("master.cf, line 1: service 127.0.0.1:2525/inet: neither smtpd_relay_restrictions nor smtpd_recipient_restrictions rejects unauthorised destinations: open relay; add reject_unauth_destination (or defer_unauth_destination)", w);
    }

    [Fact]
    public void A_submission_service_without_TLS_or_SASL_is_named_for_each()
    {
        var (status, warnings) = Check("", Smtp + "127.0.0.1:submission inet n - n - - smtpd\n  -o syslog_name=postfix/submission\n");
        Assert.Equal(0, status);
        Assert.Equal(2, warnings.Length);
        Assert.EndsWith("master.cf, line 2: service 127.0.0.1:submission/inet: submission without mandatory TLS: passwords and mail may cross the network in clear text; add -o smtpd_tls_security_level=encrypt", warnings[0]);
        Assert.EndsWith("master.cf, line 2: service 127.0.0.1:submission/inet: submission without SASL authentication: users cannot log in to send; add -o smtpd_sasl_auth_enable=yes", warnings[1]);
        Assert.Empty(Check("", Smtp + "127.0.0.1:submission inet n - n - - smtpd\n  -o smtpd_tls_security_level=encrypt\n  -o smtpd_sasl_auth_enable=yes\n").Warnings);
    }

    [Fact]
    public void A_compiled_map_older_than_its_source_is_stale()
    {
        string w = Single("virtual_alias_maps = hash:{DIR}/virtual\n", Smtp, t =>
        {
            string source = Path.Combine(t.Directory, "virtual");
            File.WriteAllText(source, "a@example.com b\n");
            File.WriteAllText(source + ".db", "");
            File.SetLastWriteTimeUtc(source + ".db", File.GetLastWriteTimeUtc(source).AddMinutes(-5));
        });
        Assert.Matches(@"warning: database /.*/virtual\.db is older than source file /.*/virtual$", w);
    }

    [Fact]
    public void A_Postfix_parameter_and_service_Posthorn_ignores_get_one_warning_each()
    {
        var (status, warnings) = Check("html_directory = no\nreadme_directory = no\n", Smtp + "verify unix - - n - 1 verify\n");
        Assert.Equal(0, status);
        Assert.Equal(3, warnings.Length);
        Assert.EndsWith(", line 5: html_directory is a Postfix parameter that Posthorn does not implement; it has no effect", warnings[0]);
        Assert.EndsWith(", line 6: readme_directory is a Postfix parameter that Posthorn does not implement; it has no effect", warnings[1]);
        Assert.EndsWith("master.cf, line 2: service verify/unix: command verify is not implemented by Posthorn; the service is ignored", warnings[2]);
    }
}
