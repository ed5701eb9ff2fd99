using System.Net;
using Posthorn.Config;
using Xunit;

namespace Posthorn.Tests.Config;

public class MasterConfigTests
{
    private const string Sample = """
        # ==========================================================================
        # service type  private unpriv  chroot  wakeup  maxproc command + args
        # ==========================================================================
        smtp      inet  n       -       y       -       -       smtpd
        127.0.0.1:2525 inet n   -       n       -       -       smtpd -v
        submission inet n       -       y       -       -       smtpd
          -o syslog_name=postfix/submission
          # a comment inside the entry
          -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
          -o smtpd_banner={ $myhostname ESMTP submission }
        pickup    unix  n       -       y       60      1       pickup
        relay     unix  -       -       y       -       -       smtp -o syslog_name=postfix/$service_name
        mailman   unix  -       n       n       -       -       pipe
          flags=FRX user=list argv=/usr/lib/mailman/bin/postfix-to-mailman.py ${nexthop} ${user}
        """;

    [Fact]
    public void Parses_columns_arguments_and_line_numbers()
    {
        var m = MasterConfig.Parse(Sample, "master.cf");
        Assert.Equal(["smtp", "127.0.0.1:2525", "submission", "pickup", "relay", "mailman"], m.Services.Select(s => s.Name));
        var pickup = m.Services[3];
        Assert.Equal(("unix", "n", "-", "y", "60", "1", "pickup", 11), (pickup.Type, pickup.Private, pickup.Unprivileged, pickup.Chroot, pickup.Wakeup, pickup.MaxProcesses, pickup.Command, pickup.Line));
        Assert.Equal(["-v"], m.Services[1].Arguments);
        Assert.Equal(6, m.Services[2].Line);
        Assert.Equal(["flags=FRX", "user=list", "argv=/usr/lib/mailman/bin/postfix-to-mailman.py", "${nexthop}", "${user}"], m.Services[5].Arguments);
    }

    [Fact]
    public void Dash_o_overrides_in_all_forms()
    {
        var sub = MasterConfig.Parse(Sample, "master.cf").Services[2];
        Assert.Empty(sub.Arguments);
        Assert.Equal("postfix/submission", sub.Overrides["syslog_name"]);
        Assert.Equal("permit_sasl_authenticated, reject", sub.Overrides["smtpd_client_restrictions"]);
        Assert.Equal("$myhostname ESMTP submission", sub.Overrides["smtpd_banner"]);
        Assert.Equal(["-o", "syslog_name=postfix/submission", "-o", "smtpd_client_restrictions=permit_sasl_authenticated, reject",
            "-o", "smtpd_banner=$myhostname ESMTP submission"], sub.DisplayArguments);
    }

    [Fact]
    public void Later_override_of_the_same_name_wins()
    {
        var s = MasterConfig.Parse("smtp inet n - n - - smtpd -o a=1 -o a=2\n", "master.cf").Services[0];
        Assert.Equal("2", s.Overrides["a"]);
    }

    [Theory]
    [InlineData("# c\nsmtp inet n - n - smtpd\n", 2, "bad field count: \"smtp inet n - n - smtpd\"")]
    [InlineData("smtp tcp n - n - - smtpd\n", 1, "bad transport type: tcp")]
    [InlineData("smtp inet maybe - n - - smtpd\n", 1, "bad private field value: maybe")]
    [InlineData("smtp inet n - n - - smtpd\nsmtp inet n - n - - smtpd\n", 2, "duplicate service name: smtp/inet")]
    [InlineData("smtp inet n - n - - smtpd -o novalue\n", 1, "missing '=' after attribute name: \"novalue\"")]
    public void Bad_lines_are_config_exceptions(string text, int line, string detail)
    {
        var e = Assert.Throws<ConfigException>(() => MasterConfig.Parse(text, "/etc/x/master.cf"));
        Assert.Equal(line, e.Line);
        Assert.Equal(detail, e.Detail);
        Assert.Equal($"/etc/x/master.cf, line {line}: {detail}", e.Message);
    }

    [Fact]
    public void Bad_master_cf_fails_the_load()
    {
        using var t = new TestConfig("", "smtp inet n\n");
        Assert.Equal(1, Assert.Throws<ConfigException>(t.Load).Line);
    }

    private static string[] EndPoints(string name, string mainCf = "")
    {
        var cfg = TestConfig.Load(mainCf, $"{name} inet n - n - - smtpd\n");
        return [.. cfg.Master.Services[0].ResolveEndPoints(cfg).Select(e => e.ToString())];
    }

    [Fact]
    public void Host_and_port_name() => Assert.Equal(["127.0.0.1:2525"], EndPoints("127.0.0.1:2525"));

    [Fact]
    public void Bracketed_ipv6_host() => Assert.Equal(["[::1]:2525"], EndPoints("[::1]:2525"));

    [Fact]
    public void Host_name_is_resolved() => Assert.Equal(["192.0.2.25:26"], EndPoints("mx.example.test:26"));

    [Fact]
    public void Port_only_listens_on_inet_interfaces() =>
        Assert.Equal(["127.0.0.1:2525", "[::1]:2525"], EndPoints("2525", "inet_interfaces = loopback-only\n"));

    [Fact]
    public void Service_name_is_looked_up() =>
        Assert.Equal(["127.0.0.1:587"], EndPoints("submission", "inet_interfaces = loopback-only\ninet_protocols = ipv4\n"));

    [Fact]
    public void Unknown_service_name_is_a_config_exception()
    {
        var cfg = TestConfig.Load("", "# x\nnosuchservice inet n - n - - smtpd\n");
        var e = Assert.Throws<ConfigException>(() => cfg.Master.Services[0].ResolveEndPoints(cfg));
        Assert.Equal(2, e.Line);
        Assert.Equal("unknown service: nosuchservice/tcp", e.Detail);
    }

    [Fact]
    public void Unix_services_have_no_end_points()
    {
        var cfg = TestConfig.Load("", "pickup unix n - n 60 1 pickup\n");
        Assert.Empty(cfg.Master.Services[0].ResolveEndPoints(cfg));
    }

    [Theory]
    [InlineData("smtp", 25)]
    [InlineData("submission", 587)]
    [InlineData("smtps", 465)]
    [InlineData("imap", 143)]
    [InlineData("imaps", 993)]
    [InlineData("pop3", 110)]
    [InlineData("pop3s", 995)]
    [InlineData("lmtp", 24)]
    public void Fallback_service_table_when_there_is_no_services_file(string name, int port) =>
        Assert.Equal(port, ServicesFile.Lookup(name, "/nonexistent/posthorn/services"));

    [Fact]
    public void Services_file_is_read()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "# x\nsmtp\t\t2500/tcp\t\tmail\nfoo 4000/udp\nbar 4001/tcp baz # alias\n");
            Assert.Equal(2500, ServicesFile.Lookup("smtp", file));
            Assert.Equal(2500, ServicesFile.Lookup("mail", file));
            Assert.Equal(4001, ServicesFile.Lookup("baz", file));
            Assert.Null(ServicesFile.Lookup("foo", file));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
