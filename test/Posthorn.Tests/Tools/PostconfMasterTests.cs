using Posthorn.Daemon.Tools;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Tools;

public class PostconfMasterTests
{
    private const string MasterCf =
        "# master.cf\n" +
        "smtp      inet  n       -       y       -       -       smtpd\n" +
        "#submission inet n       -       y       -       -       smtpd\n" +
        "#  -o syslog_name=postfix/submission\n" +
        "submission inet n       -       y       -       -       smtpd\n" +
        "  -o syslog_name=postfix/submission\n" +
        "  -o smtpd_tls_security_level=encrypt\n" +
        "pickup    unix  n       -       y       60      1       pickup\n" +
        "# end\n";

    private static (int Rc, string Out, string Err) Postconf(string dir, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var ctx = new ToolContext { Out = o, Err = e, GetEnv = _ => null };
        int rc = Daemon.Tools.Postconf.Run(["-c", dir, .. args], ctx, TestConfig.Host);
        return (rc, o.ToString(), e.ToString().ReplaceLineEndings("\n"));
    }

    private static string Master(TestConfig t) => File.ReadAllText(Path.Combine(t.Directory, "master.cf"));

    [Fact]
    public void Dash_M_replaces_an_entry_in_place_folded_and_appends_a_new_one()
    {
        using var t = new TestConfig("", MasterCf);
        Assert.Equal(0, Postconf(t.Directory, "-M", "smtp/inet=smtp inet n - n - - smtpd -o smtpd_sasl_auth_enable=no", "2525/inet=2525 inet n - n - - smtpd").Rc);
        Assert.Equal(MasterCf.Replace("smtp      inet  n       -       y       -       -       smtpd\n",
                "smtp       inet  n       -       n       -       -       smtpd\n    -o smtpd_sasl_auth_enable=no\n", StringComparison.Ordinal)
            + "2525       inet  n       -       n       -       -       smtpd\n", Master(t));
    }

    [Fact]
    public void Dash_M_with_a_mismatched_name_is_fatal_and_changes_nothing()
    {
        using var t = new TestConfig("", MasterCf);
        var r = Postconf(t.Directory, "-M", "smtp/inet=other inet n - n - - smtpd");
        Assert.Equal(1, r.Rc);
        Assert.StartsWith("postconf: fatal: -M option: service name/type mismatch", r.Err);
        Assert.Equal(MasterCf, Master(t));
    }

    [Fact]
    public void Dash_MX_removes_and_dash_M_hash_comments_out_every_physical_line()
    {
        using var t = new TestConfig("", MasterCf);
        Assert.Equal(0, Postconf(t.Directory, "-MX", "pickup/unix").Rc);
        Assert.DoesNotContain("pickup", Master(t));
        Assert.Equal(0, Postconf(t.Directory, "-M#", "submission/inet").Rc);
        Assert.Contains("#submission inet n       -       y       -       -       smtpd\n#  -o syslog_name=postfix/submission\n#  -o smtpd_tls_security_level=encrypt\n", Master(t));
        Assert.StartsWith("# master.cf\nsmtp      inet", Master(t));
        Assert.EndsWith("# end\n", Master(t));
        Assert.Equal("postconf: warning: unmatched request: \"nope/unix\"\n", Postconf(t.Directory, "-MX", "nope/unix").Err);
    }

    [Fact]
    public void Dash_F_shows_and_edits_fields()
    {
        using var t = new TestConfig("", MasterCf);
        Assert.Equal("pickup/unix/wakeup = 60\n", Postconf(t.Directory, "-F", "pickup/unix/wakeup").Out);
        Assert.Equal("submission/inet/command = smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt\n",
            Postconf(t.Directory, "-F", "submission/inet/command").Out);
        Assert.Equal(0, Postconf(t.Directory, "-F", "pickup/unix/wakeup=30", "smtp/inet/chroot=n").Rc);
        Assert.Contains("pickup     unix  n       -       y       30      1       pickup\n", Master(t));
        Assert.Contains("smtp       inet  n       -       n       -       -       smtpd\n", Master(t));
        Assert.Equal(1, Postconf(t.Directory, "-F", "smtp/inet/bogus=1").Rc);
    }

    [Fact]
    public void Dash_P_shows_sorted_parameters_edits_adds_and_removes()
    {
        using var t = new TestConfig("", MasterCf);
        Assert.Equal("submission/inet/smtpd_tls_security_level = encrypt\nsubmission/inet/syslog_name = postfix/submission\n",
            Postconf(t.Directory, "-P").Out);
        Assert.Equal(0, Postconf(t.Directory, "-P", "submission/inet/syslog_name=postfix/sub", "smtp/inet/smtpd_banner=$myhostname ESMTP").Rc);
        Assert.Contains("submission inet  n       -       y       -       -       smtpd\n    -o syslog_name=postfix/sub\n    -o smtpd_tls_security_level=encrypt\n", Master(t));
        Assert.Contains("smtp       inet  n       -       y       -       -       smtpd\n    -o { smtpd_banner=$myhostname ESMTP }\n", Master(t));
        Assert.Equal("smtp/inet/smtpd_banner = $myhostname ESMTP\n", Postconf(t.Directory, "-P", "smtp/inet/smtpd_banner").Out);
        Assert.Equal(0, Postconf(t.Directory, "-PX", "submission/inet/smtpd_tls_security_level").Rc);
        Assert.Contains("submission inet  n       -       y       -       -       smtpd\n    -o syslog_name=postfix/sub\npickup", Master(t));
    }

    [Fact]
    public void Dash_Mf_folds_options_onto_indented_lines_and_plain_M_keeps_one_line()
    {
        using var t = new TestConfig("", MasterCf);
        Assert.Equal("submission inet  n       -       y       -       -       smtpd\n    -o syslog_name=postfix/submission\n    -o smtpd_tls_security_level=encrypt\n",
            Postconf(t.Directory, "-Mf", "submission/inet").Out);
        Assert.Equal("submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt\n",
            Postconf(t.Directory, "-M", "submission").Out);
        string inet = Postconf(t.Directory, "-M", "*/inet").Out;
        Assert.StartsWith("smtp       inet  n       -       y       -       -       smtpd\nsubmission inet", inet);
        Assert.DoesNotContain("pickup", inet);
    }

    [Fact]
    public void Dash_f_folds_long_main_cf_values_before_column_80()
    {
        string names = string.Join(", ", Enumerable.Range(1, 12).Select(i => $"host{i}.example.test"));
        using var t = new TestConfig($"mydestination = {names}\n");
        string folded = Postconf(t.Directory, "-f", "mydestination").Out;
        var lines = folded.TrimEnd('\n').Split('\n');
        Assert.True(lines.Length > 1);
        Assert.All(lines, l => Assert.True(l.Length < 80, l));
        Assert.All(lines.Skip(1), l => Assert.StartsWith("    host", l));
        Assert.Equal($"mydestination = {names}", string.Join(' ', folded.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal($"mydestination = {names}\n", Postconf(t.Directory, "mydestination").Out);
    }
}
