using Posthorn.Daemon.Tools;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Tools;

public class PostconfEditTests
{
    private const string MainCf = "# Top comment\nmyhostname = mx.example.test\n\n# destinations\nmydestination = $myhostname,\n    localhost.$mydomain,\n    localhost\nrelayhost = old\n# trailing comment\n";

    private static int Postconf(string dir, params string[] args)
    {
        var ctx = new ToolContext { Out = new StringWriter(), Err = new StringWriter(), GetEnv = _ => null };
        return Daemon.Tools.Postconf.Run(["-c", dir, .. args], ctx, TestConfig.Host);
    }

    [Fact]
    public void Dash_e_replaces_in_place_keeping_comments_and_appends_new_names()
    {
        using var t = new TestConfig(MainCf);
        Assert.Equal(0, Postconf(t.Directory, "-e", "mydestination = localhost", "message_size_limit=20480000", "relayhost=[new.example.test]"));
        Assert.Equal("# Top comment\nmyhostname = mx.example.test\n\n# destinations\nmydestination = localhost\nrelayhost = [new.example.test]\n# trailing comment\nmessage_size_limit = 20480000\n",
            File.ReadAllText(t.MainCf));
    }

    [Fact]
    public void Plain_name_equals_value_edits_without_dash_e()
    {
        using var t = new TestConfig(MainCf);
        Assert.Equal(0, Postconf(t.Directory, "relayhost=", "biff=no"));
        Assert.Equal(MainCf.Replace("relayhost = old", "relayhost = ", StringComparison.Ordinal) + "biff = no\n", File.ReadAllText(t.MainCf));
    }

    [Fact]
    public void Dash_e_drops_repeated_settings_of_the_name()
    {
        using var t = new TestConfig("relayhost = a\n# keep\nrelayhost = b\n");
        Postconf(t.Directory, "-e", "relayhost=c");
        Assert.Equal("relayhost = c\n# keep\n", File.ReadAllText(t.MainCf));
    }

    [Fact]
    public void Dash_e_appends_after_a_last_line_without_newline()
    {
        using var t = new TestConfig("relayhost = a");
        Postconf(t.Directory, "biff=no");
        Assert.Equal("relayhost = a\nbiff = no\n", File.ReadAllText(t.MainCf));
    }

    [Fact]
    public void Dash_capital_x_removes_the_whole_logical_line()
    {
        using var t = new TestConfig(MainCf);
        Assert.Equal(0, Postconf(t.Directory, "-X", "mydestination", "not_there"));
        Assert.Equal("# Top comment\nmyhostname = mx.example.test\n\n# destinations\nrelayhost = old\n# trailing comment\n", File.ReadAllText(t.MainCf));
    }

    [Fact]
    public void Dash_hash_comments_out_every_physical_line()
    {
        using var t = new TestConfig(MainCf);
        Assert.Equal(0, Postconf(t.Directory, "-#", "mydestination"));
        Assert.Equal("# Top comment\nmyhostname = mx.example.test\n\n# destinations\n#mydestination = $myhostname,\n#    localhost.$mydomain,\n#    localhost\nrelayhost = old\n# trailing comment\n",
            File.ReadAllText(t.MainCf));
        var stdout = new StringWriter();
        Daemon.Tools.Postconf.Run(["-c", t.Directory, "-n"], new ToolContext { Out = stdout, Err = new StringWriter() }, TestConfig.Host);
        Assert.Equal($"config_directory = {t.Directory}\nmyhostname = mx.example.test\nrelayhost = old\n", stdout.ToString());
    }

    [Fact]
    public void Edited_file_reads_back()
    {
        using var t = new TestConfig(MainCf);
        Postconf(t.Directory, "mydestination=$myhostname, example.test");
        Assert.Equal("mx.example.test, example.test", t.Load().Get("mydestination"));
    }

    [Fact]
    public void Dash_e_without_equals_is_fatal_and_leaves_the_file_alone()
    {
        using var t = new TestConfig(MainCf);
        var err = new StringWriter();
        int status = Daemon.Tools.Postconf.Run(["-c", t.Directory, "-e", "relayhost"], new ToolContext { Out = new StringWriter(), Err = err }, TestConfig.Host);
        Assert.Equal(1, status);
        Assert.Equal("postconf: fatal: missing '=' after attribute name: \"relayhost\"\n", err.ToString());
        Assert.Equal(MainCf, File.ReadAllText(t.MainCf));
    }

    [Fact]
    public void Dash_capital_m_prints_services_in_postfix_columns()
    {
        using var t = new TestConfig("", """
            smtp      inet  n       -       n       -       -       smtpd
            127.0.0.1:2525 inet n - n - - smtpd -v
            submission inet n       -       y       -       -       smtpd
              -o syslog_name=postfix/submission
              -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
            pickup    unix  n       -       y       60      1       pickup
            """);
        var stdout = new StringWriter();
        var ctx = new ToolContext { Out = stdout, Err = new StringWriter(), GetEnv = _ => null };
        Assert.Equal(0, Daemon.Tools.Postconf.Run(["-c", t.Directory, "-M"], ctx, TestConfig.Host));
        Assert.Equal(
            "smtp       inet  n       -       n       -       -       smtpd\n"
            + "127.0.0.1:2525 inet n    -       n       -       -       smtpd -v\n"
            + "submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission -o { smtpd_client_restrictions=permit_sasl_authenticated, reject }\n"
            + "pickup     unix  n       -       y       60      1       pickup\n",
            stdout.ToString());

        var selected = new StringWriter();
        Daemon.Tools.Postconf.Run(["-c", t.Directory, "-M", "pickup/unix", "smtp/unix"], new ToolContext { Out = selected, Err = new StringWriter() }, TestConfig.Host);
        Assert.Equal("pickup     unix  n       -       y       60      1       pickup\n", selected.ToString());
    }
}
