using Posthorn.Daemon.Tools;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Tools;

public class PostconfTests
{
    private const string MainCf = """
        # Posthorn test configuration
        myhostname = mx.example.test

        # Relay through the smarthost.
        relayhost = [smart.example.test]:587
        mydestination = $myhostname,
            localhost.$mydomain,   localhost
        smtpd_banner = $myhostname   ESMTP
        recipient_delimiter =
        """;

    private static (int Status, string Out, string Err) Postconf(string dir, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var ctx = new ToolContext { Out = stdout, Err = stderr, GetEnv = _ => null };
        int status = Daemon.Tools.Postconf.Run(["-c", dir, .. args], ctx, TestConfig.Host);
        return (status, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Dash_n_prints_main_cf_settings_sorted_with_white_space_collapsed()
    {
        using var t = new TestConfig(MainCf, "");
        var (status, output, err) = Postconf(t.Directory, "-n");
        Assert.Equal(0, status);
        // Postfix 3.7: a -c directory other than /etc/postfix is listed as config_directory.
        Assert.Equal($"config_directory = {t.Directory}\n" + """
            mydestination = $myhostname, localhost.$mydomain, localhost
            myhostname = mx.example.test
            recipient_delimiter =
            relayhost = [smart.example.test]:587
            smtpd_banner = $myhostname ESMTP

            """.Replace("\r\n", "\n"), output);
        Assert.Equal("", err);
    }

    [Fact]
    public void Dash_nx_expands()
    {
        using var t = new TestConfig(MainCf, "");
        var (_, output, _) = Postconf(t.Directory, "-nx", "mydestination", "relayhost", "myorigin");
        Assert.Equal("mydestination = mx.example.test, localhost.example.test, localhost\nrelayhost = [smart.example.test]:587\n", output);
    }

    [Fact]
    public void Named_parameters_show_main_cf_value_or_default()
    {
        using var t = new TestConfig(MainCf, "");
        var (_, output, _) = Postconf(t.Directory, "myorigin", "relayhost", "mail_name");
        Assert.Equal("myorigin = $myhostname\nrelayhost = [smart.example.test]:587\nmail_name = Posthorn\n", output);
    }

    [Fact]
    public void Dash_d_prints_defaults_ignoring_main_cf()
    {
        using var t = new TestConfig(MainCf, "");
        var (status, output, _) = Postconf(t.Directory, "-d", "mydomain", "myhostname", "relayhost", "mydestination", "message_size_limit");
        Assert.Equal(0, status);
        Assert.Equal("mydomain = example.test\nmyhostname = mail.example.test\nrelayhost =\n"
            + "mydestination = $myhostname, localhost.$mydomain, localhost\nmessage_size_limit = 10240000\n", output);
    }

    [Fact]
    public void Dash_dx_expands_over_defaults_only()
    {
        using var t = new TestConfig(MainCf, "");
        Assert.Equal("mydestination = mail.example.test, localhost.example.test, localhost\n",
            Postconf(t.Directory, "-dx", "mydestination").Out);
    }

    [Fact]
    public void Dash_d_without_names_lists_every_registered_parameter_sorted()
    {
        using var t = new TestConfig("");
        var (_, output, _) = Postconf(t.Directory, "-d");
        string[] lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal(Posthorn.Config.ParameterRegistry.All.Count, lines.Length);
        Assert.Equal(lines.Order(StringComparer.Ordinal), lines);
        Assert.Contains("mail_version = 0.1", lines);
        Assert.Contains("2bounce_notice_recipient = postmaster", lines);
    }

    [Fact]
    public void Dash_h_prints_values_only()
    {
        using var t = new TestConfig(MainCf, "");
        Assert.Equal("$myhostname\n\n", Postconf(t.Directory, "-h", "myorigin", "recipient_delimiter").Out);
        Assert.Equal("mx.example.test\n", Postconf(t.Directory, "-hx", "myorigin").Out);
        Assert.Equal("example.test\n", Postconf(t.Directory, "-h", "-x", "mydomain").Out);
    }

    [Fact]
    public void Dash_capital_h_prints_names_only()
    {
        using var t = new TestConfig(MainCf, "");
        Assert.Equal("myhostname\nrelayhost\n", Postconf(t.Directory, "-nH", "myhostname", "relayhost", "myorigin").Out);
    }

    [Fact]
    public void Unknown_parameter_is_a_warning()
    {
        using var t = new TestConfig(MainCf, "");
        var (status, output, err) = Postconf(t.Directory, "no_such_thing", "relayhost");
        Assert.Equal(0, status);
        Assert.Equal("relayhost = [smart.example.test]:587\n", output);
        Assert.Equal("postconf: warning: no_such_thing: unknown parameter\n", err);
    }

    [Fact]
    public void Full_listing_contains_every_parameter_with_main_cf_values()
    {
        using var t = new TestConfig(MainCf, "");
        var (_, output, _) = Postconf(t.Directory);
        string[] lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal(Posthorn.Config.ParameterRegistry.All.Count, lines.Length);
        Assert.Contains("relayhost = [smart.example.test]:587", lines);
        Assert.Contains("myorigin = $myhostname", lines);
    }

    [Fact]
    public void Unused_parameter_warning_goes_to_stderr()
    {
        using var t = new TestConfig("relay_hots = x\n", "");
        var (_, output, err) = Postconf(t.Directory, "-n");
        // Postfix 3.7: an unused parameter is not listed.
        Assert.Equal($"config_directory = {t.Directory}\n", output);
        Assert.Equal($"postconf: warning: {t.MainCf}: unused parameter: relay_hots=x\n", err);
    }

    [Fact]
    public void Garbage_line_is_fatal()
    {
        using var t = new TestConfig("relayhost = x\nnonsense\n");
        var (status, output, err) = Postconf(t.Directory, "-n");
        Assert.Equal(1, status);
        Assert.Equal("", output);
        Assert.Equal($"postconf: fatal: {t.MainCf}, line 2: missing '=' after attribute name: \"nonsense\"\n", err);
    }

    [Fact]
    public void Missing_main_cf_is_fatal()
    {
        using var t = new TestConfig("");
        File.Delete(t.MainCf);
        var (status, _, err) = Postconf(t.Directory, "-n");
        Assert.Equal(1, status);
        Assert.Equal($"postconf: fatal: open {t.MainCf}: No such file or directory\n", err);
    }

    [Fact]
    public void Unknown_option_is_fatal_usage()
    {
        using var t = new TestConfig("");
        var (status, _, err) = Postconf(t.Directory, "-Z");
        Assert.Equal(1, status);
        Assert.StartsWith("postconf: fatal: usage: postconf", err);
    }

    [Fact]
    public void Config_directory_comes_from_mail_config_without_dash_c()
    {
        using var t = new TestConfig("relayhost = env\n");
        var stdout = new StringWriter();
        var ctx = new ToolContext { Out = stdout, Err = new StringWriter(), GetEnv = n => n == "MAIL_CONFIG" ? t.Directory : null };
        Assert.Equal(0, Daemon.Tools.Postconf.Run(["-h", "relayhost"], ctx, TestConfig.Host));
        Assert.Equal("env\n", stdout.ToString());
    }
}

public class PostconfOverrideAndClassTests
{
    private const string MainCf = "myhostname = a.example\nmy_used = x\nsmtpd_banner = $myhostname $my_used\nbiff = no\n";

    private static (int Status, string Out, string Err) Run(string dir, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int status = Daemon.Tools.Postconf.Run(["-c", dir, .. args], new ToolContext { Out = stdout, Err = stderr, GetEnv = _ => null }, TestConfig.Host);
        return (status, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Dash_o_overrides_a_setting_for_this_run_and_feeds_computed_defaults()
    {
        using var t = new TestConfig(MainCf, "");
        Assert.Equal("x.y.z\ny.z\n", Run(t.Directory, "-o", "myhostname=x.y.z", "-hx", "myhostname", "mydomain").Out);
        Assert.Equal("a.example\n", Run(t.Directory, "-h", "myhostname").Out);
    }

    [Fact]
    public void Dash_C_selects_builtin_service_or_user_parameters()
    {
        using var t = new TestConfig(MainCf, "myrelay unix - - n - - smtp\n");
        File.AppendAllText(t.MainCf, "myrelay_destination_concurrency_limit = 5\n");
        Assert.Equal("my_used = x\n", Run(t.Directory, "-C", "user", "-n").Out);
        Assert.Equal("myrelay_destination_concurrency_limit = 5\n", Run(t.Directory, "-C", "service", "-n").Out);
        Assert.Equal($"biff = no\nconfig_directory = {t.Directory}\nmyhostname = a.example\nsmtpd_banner = $myhostname $my_used\n",
            Run(t.Directory, "-C", "builtin", "-n").Out);
        Assert.Equal(Run(t.Directory, "-n").Out, Run(t.Directory, "-pC", "all", "-n").Out);
    }

    [Fact]
    public void Dash_C_with_an_unknown_class_is_fatal_in_Postfix_words()
    {
        using var t = new TestConfig(MainCf, "");
        var r = Run(t.Directory, "-C", "bogus", "-n");
        Assert.Equal(1, r.Status);
        Assert.Equal("postconf: fatal: unknown -C option value \"bogus\" in \"bogus\"\n", r.Err);
    }
}
