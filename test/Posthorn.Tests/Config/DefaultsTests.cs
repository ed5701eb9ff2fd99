using Posthorn.Config;
using Xunit;

namespace Posthorn.Tests.Config;

public class DefaultsTests
{
    [Fact]
    public void Myhostname_defaults_to_the_machine_name()
    {
        var cfg = TestConfig.Load("");
        Assert.Equal("mail.example.test", cfg.Get("myhostname"));
        Assert.False(cfg.IsSet("myhostname"));
    }

    [Theory]
    [InlineData("mail.example.test", "example.test")]
    [InlineData("mx.sub.example.org", "sub.example.org")]
    [InlineData("box", "localdomain")]
    public void Mydomain_is_myhostname_less_its_first_label(string myhostname, string mydomain)
    {
        var cfg = TestConfig.Load($"myhostname = {myhostname}\n");
        Assert.Equal(mydomain, cfg.Get("mydomain"));
    }

    [Fact]
    public void Mydestination_default_expands_over_myhostname_and_mydomain()
    {
        var cfg = TestConfig.Load("");
        Assert.Equal("$myhostname, localhost.$mydomain, localhost", cfg.GetRaw("mydestination"));
        Assert.Equal("mail.example.test, localhost.example.test, localhost", cfg.Get("mydestination"));
        var d = cfg.MyDestination();
        Assert.Equal(["mail.example.test", "localhost.example.test", "localhost"], d.Names);
        Assert.True(d.Matches("LOCALHOST.Example.Test"));
        Assert.True(d.Matches("mail.example.test."));
        Assert.False(d.Matches("sub.mail.example.test"));
        Assert.False(d.Matches("example.test"));
    }

    [Fact]
    public void Detected_host_name_is_fully_qualified()
    {
        var host = HostInfo.Detect();
        Assert.Contains('.', host.Fqdn);
        Assert.Equal(host.Fqdn.ToLowerInvariant(), host.Fqdn);
    }

    [Fact]
    public void Smtpd_banner_names_posthorn()
    {
        Assert.Equal("mail.example.test ESMTP Posthorn", TestConfig.Load("").Get("smtpd_banner"));
    }

    [Fact]
    public void Config_directory_is_the_loaded_directory()
    {
        using var t = new TestConfig("");
        Assert.Equal(t.Directory, t.Load().Get("config_directory"));
    }

    [Fact]
    public void Typed_defaults()
    {
        var cfg = TestConfig.Load("");
        Assert.Equal(10240000, cfg.GetSize("message_size_limit"));
        Assert.Equal(1000, cfg.GetNumber("smtpd_recipient_limit"));
        Assert.Equal(TimeSpan.FromSeconds(300), cfg.GetTime("smtpd_timeout"));
        Assert.Equal(TimeSpan.FromDays(5), cfg.GetTime("maximal_queue_lifetime"));
        Assert.Equal(TimeSpan.Zero, cfg.GetTime("delay_warning_time"));
        Assert.False(cfg.GetBool("disable_vrfy_command"));
        Assert.True(cfg.GetBool("smtputf8_enable"));
        Assert.Equal(["permit_mynetworks", "permit_sasl_authenticated", "defer_unauth_destination"], cfg.GetList("smtpd_relay_restrictions"));
        Assert.Equal("local:mail.example.test", cfg.Get("local_transport"));
        Assert.Equal("Posthorn", cfg.Get("mail_name"));
    }

    [Theory]
    [InlineData("delay_warning_time", "4", 4 * 3600)]
    [InlineData("delay_warning_time", "30m", 1800)]
    [InlineData("smtpd_timeout", "2m", 120)]
    [InlineData("smtpd_timeout", "45", 45)]
    [InlineData("maximal_queue_lifetime", "2", 2 * 86400)]
    [InlineData("maximal_queue_lifetime", "1w", 7 * 86400)]
    [InlineData("maximal_backoff_time", "1H", 3600)]
    public void Bare_time_has_the_unit_of_the_default(string name, string value, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), TestConfig.Load($"{name} = {value}\n").GetTime(name));
    }

    [Theory]
    [InlineData("smtpd_timeout = 5x", "parameter smtpd_timeout: bad time value or unit: 5x")]
    [InlineData("smtpd_timeout = s", "parameter smtpd_timeout: bad time value or unit: s")]
    public void Bad_time_is_a_config_exception_naming_the_line(string line, string detail)
    {
        var cfg = TestConfig.Load($"# x\n{line}\n");
        var e = Assert.Throws<ConfigException>(() => cfg.GetTime("smtpd_timeout"));
        Assert.Equal(2, e.Line);
        Assert.Equal(detail, e.Detail);
    }

    [Fact]
    public void Bad_boolean_and_number_are_config_exceptions()
    {
        var cfg = TestConfig.Load("biff = maybe\nhopcount_limit = lots\n");
        Assert.Equal("bad boolean configuration: biff = maybe", Assert.Throws<ConfigException>(() => cfg.GetBool("biff")).Detail);
        Assert.Equal("bad numerical configuration: hopcount_limit = lots", Assert.Throws<ConfigException>(() => cfg.GetNumber("hopcount_limit")).Detail);
    }

    [Fact]
    public void Bool_accepts_any_case()
    {
        Assert.True(TestConfig.Load("disable_vrfy_command = YES\n").GetBool("disable_vrfy_command"));
    }

    [Fact]
    public void List_splits_on_commas_and_white_space_keeping_brace_groups()
    {
        var cfg = TestConfig.Load("smtpd_recipient_restrictions = permit_mynetworks,reject_unauth_destination  check_policy_service { inet:127.0.0.1:9998, timeout=10s }\n");
        Assert.Equal(["permit_mynetworks", "reject_unauth_destination", "check_policy_service", "{ inet:127.0.0.1:9998, timeout=10s }"],
            cfg.GetList("smtpd_recipient_restrictions"));
    }

    [Fact]
    public void Registry_has_every_parameter_of_the_brief_with_postfix_defaults()
    {
        Assert.Equal("all", ParameterRegistry.All["inet_interfaces"].Default);
        Assert.Equal("host", ParameterRegistry.All["mynetworks_style"].Default);
        Assert.Equal("proxy:unix:passwd.byname $alias_maps", ParameterRegistry.All["local_recipient_maps"].Default);
        Assert.Equal(ParameterKind.Time, ParameterRegistry.All["bounce_queue_lifetime"].Kind);
        Assert.True(ParameterRegistry.TryGet("2bounce_notice_recipient", out var p));
        Assert.Equal("postmaster", p.Default);
        Assert.False(ParameterRegistry.TryGet("no_such_parameter", out _));
    }

    [Fact]
    public void With_overrides_layers_master_cf_values_over_main_cf()
    {
        var cfg = TestConfig.Load("smtpd_banner = main\n");
        var svc = cfg.WithOverrides(new Dictionary<string, string> { ["smtpd_banner"] = "$myhostname submission", ["syslog_name"] = "postfix/submission" });
        Assert.Equal("mail.example.test submission", svc.Get("smtpd_banner"));
        Assert.Equal("postfix/submission", svc.Get("syslog_name"));
        Assert.True(svc.IsSet("syslog_name"));
        Assert.Equal("main", cfg.Get("smtpd_banner"));
        Assert.False(cfg.IsSet("syslog_name"));
    }
}
