using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the administrator edits main.cf while the mail system runs, and <c>postfix check</c> and
/// <c>postfix reload</c> say when the change needs a stop and start rather than a reload.</summary>
public sealed class ConfigCheckTests(ITestOutputHelper output)
{
    private const string Advice = ": run 'postfix stop' and 'postfix start', a reload keeps the addresses the listeners started with";

    [Fact]
    public async Task A_changed_inet_interfaces_or_inet_protocols_is_reported_by_check_and_reload_until_a_restart()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        var before = await d.RunToolAsync("postfix", "check");
        Assert.True(before.ExitCode == 0, before.ToString());
        Assert.DoesNotContain("changed from", before.Stderr, StringComparison.Ordinal);

        string mainCf = File.ReadAllText(d.MainCfPath);
        Assert.Contains("inet_interfaces = loopback-only\n", mainCf, StringComparison.Ordinal);
        File.WriteAllText(d.MainCfPath, mainCf.Replace("inet_interfaces = loopback-only\n", "inet_interfaces = 127.0.0.1\n", StringComparison.Ordinal)
            + "inet_protocols = ipv4\n");

        string interfaces = $"posthorn/postfix-script: warning: inet_interfaces changed from loopback-only to 127.0.0.1{Advice}\n";
        string protocols = $"posthorn/postfix-script: warning: inet_protocols changed from all to ipv4{Advice}\n";
        var check = await d.RunToolAsync("postfix", "check");
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains(interfaces, check.Stderr, StringComparison.Ordinal);
        Assert.Contains(protocols, check.Stderr, StringComparison.Ordinal);

        var reload = await d.RunToolAsync("postfix", "reload");
        Assert.True(reload.ExitCode == 0, reload.ToString());
        Assert.StartsWith(interfaces + protocols, reload.Stderr, StringComparison.Ordinal);
        Assert.True(await DaemonProcess.GreetsAsync(d.SmtpPort), "the daemon still answers after the reload");

        // After a stop and start the daemon runs with the new values: nothing more to say.
        await d.StopAsync();
        var stopped = await d.RunToolAsync("postfix", "check");
        Assert.DoesNotContain("changed from", stopped.Stderr, StringComparison.Ordinal);
        await d.StartAsync();
        var after = await d.RunToolAsync("postfix", "check");
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.DoesNotContain("changed from", after.Stderr, StringComparison.Ordinal);
    }
}
