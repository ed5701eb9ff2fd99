using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: administer it with Postfix's tools, same names and flags (issue 2 step 3):
/// postconf, postfix start/stop/reload/status/check, mailq, postsuper, sendmail, newaliases.</summary>
public sealed partial class ToolsTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly TestConfig DomainWide = TestConfig.Default with { Mydestination = TestConfig.MydestinationWithMydomain };

    [Fact]
    public async Task Postconf_n_lists_exactly_the_main_cf_parameters_sorted_and_unexpanded()
    {
        await using var d = DaemonProcess.Create(TestConfig.Default.With("message_size_limit", "2000"), output);
        var r = await d.RunToolAsync("postconf", "-n");
        Assert.True(r.ExitCode == 0, r.ToString());
        // Postfix postconf: a config directory other than the built-in one is listed as if main.cf set it.
        var entries = d.Config.MainCfEntries(d.ConfigDir).Append(new("config_directory", d.ConfigDir));
        var expected = entries.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} = {e.Value}");
        Assert.Equal(expected, r.Stdout.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Postconf_shows_named_parameters_defaults_and_bare_values()
    {
        await using var d = DaemonProcess.Create(output: output);
        Assert.Equal("myhostname = mail.example.test\nmydomain = example.test\n", (await d.RunToolAsync("postconf", "myhostname", "mydomain")).Stdout);
        // Postfix postconf shows values as written; -x would expand them.
        Assert.Equal("$mydomain\n", (await d.RunToolAsync("postconf", "-h", "myorigin")).Stdout);
        Assert.Equal("mydestination = $myhostname, localhost.$mydomain, localhost\n", (await d.RunToolAsync("postconf", "-d", "mydestination")).Stdout);
        Assert.Equal("myorigin = $myhostname\n", (await d.RunToolAsync("postconf", "-d", "myorigin")).Stdout);
        Assert.Equal("message_size_limit = 10240000\n", (await d.RunToolAsync("postconf", "-d", "message_size_limit")).Stdout);
        Assert.Equal("10240000\n", (await d.RunToolAsync("postconf", "-h", "message_size_limit")).Stdout);
    }

    [Fact]
    public async Task Postconf_c_dir_wins_over_MAIL_CONFIG()
    {
        await using var viaEnv = DaemonProcess.Create(output: output);
        await using var viaFlag = DaemonProcess.Create(TestConfig.Default.With("message_size_limit", "2000"), output);
        // viaEnv's tools run with MAIL_CONFIG = viaEnv's directory.
        Assert.Equal("10240000\n", (await viaEnv.RunToolAsync("postconf", "-h", "message_size_limit")).Stdout);
        Assert.Equal("2000\n", (await viaEnv.RunToolAsync("postconf", "-c", viaFlag.ConfigDir, "-h", "message_size_limit")).Stdout);
    }

    [Fact]
    public async Task Postconf_e_edits_main_cf_in_place_and_keeps_comments()
    {
        await using var d = DaemonProcess.Create(output: output);
        var before = File.ReadAllLines(d.MainCfPath);
        var r = await d.RunToolAsync("postconf", "-e", "myhostname=other.example.test", "smtpd_banner=$myhostname ESMTP edited");
        Assert.True(r.ExitCode == 0, r.ToString());
        var after = File.ReadAllLines(d.MainCfPath);
        Assert.Equal(TestConfig.MainCfComment, after[0]);
        // An existing parameter is changed where it stands; a new one is appended.
        int at = Array.IndexOf(before, "myhostname = mail.example.test");
        Assert.Equal("myhostname = other.example.test", after[at]);
        Assert.Contains("smtpd_banner = $myhostname ESMTP edited", after);
        Assert.Equal(before.Count(l => l.Length > 0) + 1, after.Count(l => l.Length > 0));
        Assert.Equal("$myhostname ESMTP edited\n", (await d.RunToolAsync("postconf", "-h", "smtpd_banner")).Stdout);
    }

    [Fact]
    public async Task Check_accepts_the_test_configuration()
    {
        await using var d = DaemonProcess.Create(output: output);
        await d.CompileAliasesOnceAsync();
        var r = await d.RunToolAsync("postfix", "check");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("fatal", r.Output);
    }

    [Fact]
    public async Task Check_names_main_cf_and_the_line_of_a_garbage_line()
    {
        await using var d = DaemonProcess.Create(output: output);
        File.AppendAllText(d.MainCfPath, "this line is garbage\n");
        int line = File.ReadAllLines(d.MainCfPath).Length;
        foreach (var verb in new[] { new[] { "postfix", "check" }, ["check"] })
        {
            var r = await d.RunToolAsync(verb);
            Assert.True(r.ExitCode != 0, $"posthorn {string.Join(' ', verb)} must fail: {r}");
            Assert.Contains("fatal:", r.Output);
            Assert.Contains($"main.cf, line {line}", r.Output);
        }
    }

    [Fact]
    public async Task Status_reports_running_with_the_pid_then_not_running_after_stop()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        int pid = d.Pid!.Value;
        foreach (var verb in new[] { new[] { "postfix", "status" }, ["status"] })
        {
            var r = await d.RunToolAsync(verb);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains($"postfix-script: the Postfix mail system is running: PID: {pid}", r.Output);
        }
        var stop = await d.RunToolAsync("postfix", "stop");
        Assert.True(stop.ExitCode == 0, stop.ToString());
        await d.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var after = await d.RunToolAsync("postfix", "status");
        Assert.Equal(1, after.ExitCode);
        Assert.Contains("postfix-script: the Postfix mail system is not running", after.Output);
        Assert.False(await DaemonProcess.AcceptsConnectionsAsync(d.SmtpPort));
    }

    [Fact]
    public async Task Foreground_daemon_ends_on_SIGTERM()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await d.StopAsync();
        Assert.False(await DaemonProcess.AcceptsConnectionsAsync(d.SmtpPort));
        Assert.Equal(1, (await d.RunToolAsync("postfix", "status")).ExitCode);
    }

    [Fact]
    public async Task Start_returns_once_listening_and_stop_closes_the_port()
    {
        await using var d = DaemonProcess.Create(output: output);
        await d.CompileAliasesOnceAsync();
        var start = await d.RunToolAsync("postfix", "start");
        Assert.True(start.ExitCode == 0, start.ToString());
        // No waiting: `start` returns once the listeners accept.
        Assert.True(await DaemonProcess.GreetsAsync(d.SmtpPort), $"no 220 right after `postfix start`{Environment.NewLine}{d.Diagnostics()}");
        Assert.Equal(0, (await d.RunToolAsync("postfix", "status")).ExitCode);

        var again = await d.RunToolAsync("postfix", "start");
        Assert.True(again.ExitCode != 0, $"a second start must refuse: {again}");
        Assert.Contains("already running", again.Output);

        var stop = await d.RunToolAsync("postfix", "stop");
        Assert.True(stop.ExitCode == 0, stop.ToString());
        await Wait.UntilAsync(async () => !await DaemonProcess.AcceptsConnectionsAsync(d.SmtpPort), TimeSpan.FromSeconds(30),
            "the SMTP port to close after `postfix stop`", d.Diagnostics);
        Assert.Equal(1, (await d.RunToolAsync("postfix", "status")).ExitCode);
    }
}
