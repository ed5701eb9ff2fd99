using Posthorn.Daemon.Tools;
using Xunit;

namespace Posthorn.Tests.Config;

public class PostfixCheckTests
{
    private const string MasterCf = "127.0.0.1:2525 inet n - n - - smtpd\npickup unix n - n 60 1 pickup\n";

    private static string OkMain(TestConfig t) =>
        $"queue_directory = {t.Directory}\nmail_owner = tester\ninet_interfaces = loopback-only\nmynetworks = 127.0.0.0/8 [::1]/128\n";

    private static (int Status, string Out, string Err) Check(TestConfig t, string? mainCf = null)
    {
        if (mainCf is not null)
            File.WriteAllText(t.MainCf, mainCf);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var ctx = new ToolContext { Out = stdout, Err = stderr, GetEnv = _ => null };
        int status = PostfixCheck.Run(ctx, t.Directory, TestConfig.Host, name => name == "tester");
        return (status, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Good_configuration_is_silent_and_exits_zero()
    {
        using var t = new TestConfig("", MasterCf);
        var (status, output, err) = Check(t, OkMain(t));
        Assert.Equal("", err);
        Assert.Equal("", output);
        Assert.Equal(0, status);
    }

    [Fact]
    public void Garbage_line_is_fatal_and_named()
    {
        using var t = new TestConfig("", MasterCf);
        var (status, _, err) = Check(t, OkMain(t) + "this is garbage\n");
        Assert.Equal(1, status);
        Assert.Equal($"posthorn/postfix-script: fatal: {t.MainCf}, line 5: missing '=' after attribute name: \"this is garbage\"\n", err);
    }

    [Fact]
    public void Garbage_master_cf_line_is_fatal_and_named()
    {
        using var t = new TestConfig("", "# services\nsmtp inet n - n\n");
        var (status, _, err) = Check(t, OkMain(t));
        Assert.Equal(1, status);
        Assert.Equal($"posthorn/postfix-script: fatal: {Path.Combine(t.Directory, "master.cf")}, line 2: bad field count: \"smtp inet n - n\"\n", err);
    }

    [Fact]
    public void Unknown_mynetworks_style_is_fatal()
    {
        using var t = new TestConfig("", MasterCf);
        var (status, _, err) = Check(t, OkMain(t) + "mynetworks_style = galaxy\n");
        Assert.Equal(1, status);
        Assert.Equal("posthorn/postfix-script: fatal: unknown mynetworks_style parameter value: galaxy\n", err);
    }

    [Fact]
    public void Bad_mynetworks_is_fatal()
    {
        using var t = new TestConfig("", MasterCf);
        var (status, _, err) = Check(t, OkMain(t).Replace("127.0.0.0/8", "127.0.0.1/8", StringComparison.Ordinal));
        Assert.Equal(1, status);
        Assert.Equal($"posthorn/postfix-script: fatal: {t.MainCf}, line 4: mynetworks: non-null host address bits in \"127.0.0.1/8\", perhaps you should use \"127.0.0.0/8\" instead\n", err);
    }

    [Fact]
    public void Bad_inet_interfaces_is_fatal()
    {
        using var t = new TestConfig("", MasterCf);
        var (status, _, err) = Check(t, OkMain(t).Replace("loopback-only", "127.0.0.1, bad!name", StringComparison.Ordinal));
        Assert.Equal(1, status);
        Assert.Contains("fatal: " + t.MainCf + ", line 3: inet_interfaces: bad address or host name: \"bad!name\"", err);
    }

    [Fact]
    public void Unknown_mail_owner_is_fatal()
    {
        using var t = new TestConfig("", MasterCf);
        var (status, _, err) = Check(t, OkMain(t).Replace("mail_owner = tester", "mail_owner = nosuchuser", StringComparison.Ordinal));
        Assert.Equal(1, status);
        Assert.Equal($"posthorn/postfix-script: fatal: file {t.MainCf}: parameter mail_owner: unknown user name value: nosuchuser\n", err);
    }

    [Fact]
    public void Bad_typed_value_is_fatal()
    {
        using var t = new TestConfig("", MasterCf);
        var (status, _, err) = Check(t, OkMain(t) + "smtpd_timeout = soon\n");
        Assert.Equal(1, status);
        Assert.Equal($"posthorn/postfix-script: fatal: {t.MainCf}, line 5: parameter smtpd_timeout: bad time value or unit: soon\n", err);
    }

    [Fact]
    public void Missing_queue_directory_is_a_warning_and_missing_parent_is_fatal()
    {
        using var t = new TestConfig("", MasterCf);
        string queue = Path.Combine(t.Directory, "queue");
        var (status, _, err) = Check(t, OkMain(t).Replace($"queue_directory = {t.Directory}", $"queue_directory = {queue}", StringComparison.Ordinal));
        Assert.Equal(0, status);
        Assert.Equal($"posthorn/postfix-script: warning: queue_directory {queue} does not exist; it is created at start\n", err);

        string deep = Path.Combine(t.Directory, "missing", "queue");
        (status, _, err) = Check(t, OkMain(t).Replace($"queue_directory = {t.Directory}", $"queue_directory = {deep}", StringComparison.Ordinal));
        Assert.Equal(1, status);
        Assert.Equal($"posthorn/postfix-script: fatal: queue_directory {deep}: parent directory does not exist\n", err);
    }

    [Fact]
    public void Warnings_are_reported_without_failing()
    {
        using var t = new TestConfig("", MasterCf);
        var (status, _, err) = Check(t, OkMain(t) + "relay_hots = x\n");
        Assert.Equal(0, status);
        Assert.Equal($"posthorn/postfix-script: warning: {t.MainCf}: unused parameter: relay_hots=x\n", err);
    }

    [Fact]
    public void User_lookup_knows_the_current_user()
    {
        Assert.True(PostfixCheck.UserExists(Environment.UserName));
        Assert.False(PostfixCheck.UserExists("posthorn-no-such-user-xyz"));
    }
}
