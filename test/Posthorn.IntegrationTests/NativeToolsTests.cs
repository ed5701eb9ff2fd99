using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 9, CLI one-shots within 3× of Postfix's C tools): the native front
/// <c>native/posthorn-tools</c> beside <c>posthorn</c> (src/Posthorn.Tools, compiled ahead of time by the Release
/// build) runs postconf, mailq, postqueue, postsuper and sendmail as the managed posthorn does, byte for byte, whether
/// called as <c>posthorn-tools TOOL</c> or by a link named like the tool; every other command reaches posthorn.</summary>
public sealed class NativeToolsTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly TestConfig DomainWide = TestConfig.Default with { Mydestination = TestConfig.MydestinationWithMydomain };

    [NativeToolsFact]
    public async Task Postconf_n_d_and_h_print_what_posthorn_prints()
    {
        await using var d = DaemonProcess.Create(TestConfig.Default.With("message_size_limit", "2000"), output);
        string[][] commands =
        [
            ["postconf", "-n"], ["postconf", "-d", "myhostname"], ["postconf", "-d", "mydestination"],
            ["postconf", "-h", "message_size_limit"], ["postconf", "myorigin", "mydomain"], ["postconf", "-c", d.ConfigDir, "-n"],
        ];
        foreach (var c in commands)
        {
            var managed = await d.RunToolAsync(c);
            var native = await NativeTools.RunAsync(d, null, c);
            Assert.True(managed.ExitCode == 0, managed.ToString());
            Assert.Equal(managed.ToString(), native.ToString());
        }
        Assert.Contains("message_size_limit = 2000\n", (await NativeTools.RunAsync(d, null, "postconf", "-n")).Stdout);
        // An unknown option: the same usage error and exit status.
        var bad = await NativeTools.RunAsync(d, null, "postconf", "-Q");
        Assert.Equal((await d.RunToolAsync("postconf", "-Q")).ToString(), bad.ToString());
        Assert.NotEqual(0, bad.ExitCode);
    }

    [NativeToolsFact]
    public async Task A_link_named_postconf_or_mailq_runs_that_tool()
    {
        await using var d = DaemonProcess.Create(output: output);
        var links = Directory.CreateTempSubdirectory("posthorn-links-");
        try
        {
            foreach (var name in new[] { "postconf", "mailq" })
                File.CreateSymbolicLink(Path.Combine(links.FullName, name), NativeTools.Path);
            var postconf = await NativeTools.RunAsync(d, Path.Combine(links.FullName, "postconf"), "-h", "mydomain");
            Assert.Equal($"{TestConfig.Mydomain}\n", postconf.Stdout);
            var mailq = await NativeTools.RunAsync(d, Path.Combine(links.FullName, "mailq"));
            Assert.Equal("Mail queue is empty\n", mailq.Stdout);
        }
        finally
        {
            links.Delete(recursive: true);
        }
    }

    [NativeToolsFact]
    public async Task Sendmail_into_maildrop_mailq_lists_it_as_posthorn_does_and_the_daemon_delivers_it()
    {
        // Unqualified recipient: qualified with $myorigin (example.test, local in DomainWide).
        await using var d = DaemonProcess.Create(DomainWide, output);
        await d.CompileAliasesOnceAsync();
        // postfix check makes the queue directories, as Postfix's does; the daemon is not started yet.
        var check = await d.RunToolAsync("postfix", "check");
        Assert.True(check.ExitCode == 0, check.ToString());
        var empty = await NativeTools.RunAsync(d, null, "mailq");
        Assert.True(empty.ExitCode == 0, empty.ToString());
        Assert.Equal("Mail queue is empty\n", empty.Stdout);
        Assert.Equal((await NativeTools.RunAsync(d, null, "postqueue", "-p")).Stdout, empty.Stdout);

        // The daemon is not running: sendmail leaves the message in maildrop, where mailq sees it.
        string token = Token.New();
        var sent = await NativeTools.RunAsync(d, null, $"Subject: native sendmail {token}\n\nnative body {token}\n",
            ["sendmail", "-f", "alice@sender.example", User]);
        Assert.True(sent.ExitCode == 0, sent.ToString());
        var listed = await NativeTools.RunAsync(d, null, "mailq");
        Assert.EndsWith("in 1 Request.\n", listed.Stdout);
        Assert.Contains("alice@sender.example", listed.Stdout);
        Assert.Equal((await d.RunToolAsync("mailq")).ToString(), listed.ToString());
        Assert.Equal((await d.RunToolAsync("postqueue", "-p")).ToString(), (await NativeTools.RunAsync(d, null, "postqueue", "-p")).ToString());

        await d.StartAsync();
        var m = Assert.Single(await d.WaitForMboxAsync(User, "native body " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.StartsWith("From alice@sender.example ", m.FromLine);
        Assert.Equal($"native sendmail {token}", m.Header("Subject"));
    }

    [NativeToolsFact]
    public async Task Other_commands_are_run_by_posthorn()
    {
        await using var d = DaemonProcess.Create(output: output);
        await d.CompileAliasesOnceAsync();
        // The first check makes the queue directories and says so; the compared runs find them made.
        await d.RunToolAsync("postfix", "check");
        // postfix check and status are not one-shot tools of the native front: it hands them to posthorn.
        foreach (var c in new[] { new[] { "postfix", "check" }, ["postfix", "status"], ["no-such-tool"], ["help"] })
        {
            var managed = await d.RunToolAsync(c);
            var native = await NativeTools.RunAsync(d, null, c);
            Assert.Equal(managed.ToString(), native.ToString());
        }
        var unknown = await NativeTools.RunAsync(d, null, "no-such-tool");
        Assert.Equal(64, unknown.ExitCode);
        Assert.Contains("unknown command: no-such-tool", unknown.Stderr);
    }

    [NativeToolsFact]
    public async Task Install_links_run_through_the_native_front_when_posthorn_has_one()
    {
        await using var d = DaemonProcess.Create(output: output);
        string bin = Path.Combine(d.ConfigDir, "bin");
        // Through the native front, install-links is run by the posthorn beside it, which finds native/posthorn-tools.
        var r = await NativeTools.RunAsync(d, null, "install-links", bin);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(NativeTools.Path, File.ReadAllText(Path.Combine(bin, "postconf")));
        var env = new Dictionary<string, string?>(PosthornExecutable.RuntimeEnvironment()) { ["MAIL_CONFIG"] = d.ConfigDir };
        var postconf = await ProcessRunner.RunAsync(Path.Combine(bin, "postconf"), ["-h", "myhostname"], DaemonProcess.ToolTimeout, env);
        Assert.Equal($"{TestConfig.Myhostname}\n", postconf.Stdout);
        // postfix is not a one-shot tool: the wrapper still reaches posthorn (through the front).
        var status = await ProcessRunner.RunAsync(Path.Combine(bin, "postfix"), ["status"], DaemonProcess.ToolTimeout, env);
        Assert.Equal((await d.RunToolAsync("postfix", "status")).ToString(), status.ToString());
    }
}
