using System.Diagnostics;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>The fixture's accounts, plus the system's (nobody, and lookups by uid).</summary>
internal sealed class UsersWithSystem(IUserDatabase inner) : IUserDatabase
{
    private static readonly PasswdUserDatabase System = new();

    public bool TryGetUser(string name, out SystemUser user) =>
        inner.TryGetUser(name, out user) || (name == "nobody" && System.TryGetUser(name, out user));

    public bool TryGetUserById(int uid, out SystemUser user) => System.TryGetUserById(uid, out user);

    /// <summary>The uid a command from a root-owned source runs as: default_privs as root, else ours.</summary>
    public static string DefaultPrivsUid()
    {
        if (!LibC.IsRoot) return LibC.geteuid().ToString();
        Assert.True(System.TryGetUser("nobody", out var nobody), "this test needs the account nobody");
        return nobody.Uid.ToString();
    }
}

public class CommandDeliveryTests
{
    private const string Message = "Subject: hi\r\n\r\nFrom me\r\n";

    private static string[] Summary(LocalDeliveryResult r) =>
        r.Results.Select(x => $"{x.Recipient} {x.Outcome} {x.Dsn} {x.Text}").ToArray();

    /// <summary>A fixture whose root others may enter, with an output directory anyone may write
    /// (commands of root-owned aliases run as default_privs when the tests run as root).</summary>
    private static (DeliveryFixture Fx, string Out) Setup(params string[] users)
    {
        var fx = new DeliveryFixture(users);
        File.SetUnixFileMode(fx.Root, (UnixFileMode)0x1ED);
        string output = Path.Combine(fx.Root, "out");
        Directory.CreateDirectory(output);
        File.SetUnixFileMode(output, (UnixFileMode)0x1FF);
        return (fx, output);
    }

    private static LocalTransport Transport(DeliveryFixture fx, LocalDeliveryOptions o) =>
        fx.Transport(o with { MailToCommands = LocalSources.Alias | LocalSources.Forward }, new UsersWithSystem(fx.Users));

    [Fact]
    public async Task A_command_gets_the_message_and_Postfix_environment()
    {
        var (fx, output) = Setup();
        using var cleanup = fx;
        string script = Path.Combine(fx.Root, "deliver.sh");
        File.WriteAllText(script, $"#!/bin/sh\nenv > {output}/env\ncat > {output}/in\nid -u > {output}/uid\n");
        File.SetUnixFileMode(script, (UnixFileMode)0x1ED);
        var o = fx.Options($"x: |{script}\n") with { RecipientDelimiter = "+" };
        var r = await Transport(fx, o).DeliverAsync(DeliveryFixture.Request("x+t$g@host.example", Message), default);

        Assert.Equal([$"x+t$g@host.example Sent 2.0.0 delivered to command: {script}"], Summary(r));
        // Postfix local(8): From_ line and delivery headers, no >From quoting, no empty line appended.
        Assert.Equal(
            "From alice@remote.example  Thu Nov  5 13:17:08 2026\nReturn-Path: <alice@remote.example>\n" +
            "X-Original-To: x+t$g@host.example\nDelivered-To: x+t$g@host.example\nSubject: hi\n\nFrom me\n",
            File.ReadAllText(Path.Combine(output, "in")));
        var env = File.ReadAllLines(Path.Combine(output, "env")).Where(l => l.Contains('=')).ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);
        Assert.Equal("x", env["USER"]);
        Assert.Equal("x", env["LOGNAME"]);
        Assert.Equal("x+t_g", env["LOCAL"]); // command_expansion_filter: "$" is not allowed
        Assert.Equal("t_g", env["EXTENSION"]);
        Assert.Equal("host.example", env["DOMAIN"]);
        Assert.Equal("x+t_g@host.example", env["RECIPIENT"]);
        Assert.Equal("alice@remote.example", env["SENDER"]);
        Assert.Equal("x+t_g@host.example", env["ORIGINAL_RECIPIENT"]);
        Assert.Equal("/usr/bin:/bin", env["PATH"]);
        Assert.True(env.ContainsKey("HOME"));
        Assert.False(env.ContainsKey("DOTNET_ROOT") || env.ContainsKey("XUNIT_HOSTED"), "the daemon's environment must not leak");
        Assert.Equal(UsersWithSystem.DefaultPrivsUid(), File.ReadAllText(Path.Combine(output, "uid")).Trim());
    }

    [Theory]
    [InlineData("exit 0", DeliveryOutcome.Sent, "2.0.0", "delivered to command: exit 0")]
    [InlineData("exit 75", DeliveryOutcome.Deferred, "4.3.0", "temporary failure")]
    [InlineData("exit 67", DeliveryOutcome.Bounced, "5.1.1", "user unknown")]
    [InlineData("cat >/dev/null; exit 78", DeliveryOutcome.Bounced, "5.3.5", "local configuration error")]
    [InlineData("echo 'no  such\tbox' >&2; exit 75", DeliveryOutcome.Deferred, "4.3.0", "temporary failure. Command output: no  such box")]
    [InlineData("exit 3", DeliveryOutcome.Bounced, "5.3.0", "Command died with status 3: \"exit 3\"")]
    [InlineData("kill -9 $$", DeliveryOutcome.Deferred, "4.3.0", "Command died with signal 9: \"kill -9 $$\"")]
    public async Task Exit_status_is_read_through_sysexits(string command, DeliveryOutcome outcome, string dsn, string text)
    {
        var (fx, _) = Setup();
        using var cleanup = fx;
        var r = await Transport(fx, fx.Options($"x: \"|{command}\"\n")).DeliverAsync(DeliveryFixture.Request("x@host.example", Message), default);
        var result = Assert.Single(r.Results);
        Assert.Equal((outcome, dsn, text), (result.Outcome, result.Dsn.ToString(), result.Text));
        Assert.Contains(fx.LogLines.Lines, l => l.Contains($"status={outcome.ToString().ToLowerInvariant()} ({text})"));
    }

    [Fact]
    public async Task Output_is_bounded()
    {
        var (fx, _) = Setup();
        using var cleanup = fx;
        var o = fx.Options("x: \"|yes 0123456789 | head -c 100000; exit 75\"\n");
        var result = Assert.Single((await Transport(fx, o).DeliverAsync(DeliveryFixture.Request("x@host.example", Message), default)).Results);
        Assert.StartsWith("temporary failure. Command output: 0123456789 0123456789", result.Text);
        Assert.InRange(result.Text.Length, 4000, 4200);
    }

    [Fact]
    public async Task A_command_past_command_time_limit_is_killed_with_its_children_and_deferred()
    {
        var (fx, output) = Setup();
        using var cleanup = fx;
        // The shell starts a background sleep, notes both pids, and waits: both must be killed.
        string command = $"sleep 30 & echo $! > {output}/child; echo $$ > {output}/shell; wait";
        var o = fx.Options($"x: \"|{command}\"\n") with { CommandTimeLimit = TimeSpan.FromSeconds(1) };
        var r = await Transport(fx, o).DeliverAsync(DeliveryFixture.Request("x@host.example", Message), default);
        // Issue 7: killed and deferred (DEVIATION from Postfix pipe_command, which bounces with 5.3.0).
        Assert.Equal([$"x@host.example Deferred 4.3.0 Command time limit exceeded: \"{command}\""], Summary(r));
        Assert.Contains(fx.LogLines.Lines, l => l.Contains("status=deferred (Command time limit exceeded:"));
        foreach (var name in new[] { "shell", "child" })
        {
            int pid = int.Parse(File.ReadAllText(Path.Combine(output, name)).Trim());
            var deadline = Stopwatch.StartNew();
            while (IsRunning(pid) && deadline.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(50);
            Assert.False(IsRunning(pid), $"the {name} (pid {pid}) still runs after the time limit");
        }
    }

    /// <summary>A process that exists and is not a zombie (killed, waiting to be reaped).</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return false;
        }
    }

    [Fact]
    public async Task Commands_are_allowed_only_from_the_sources_listed()
    {
        var (fx, _) = Setup();
        using var cleanup = fx;
        string inc = Path.Combine(fx.Root, "list.inc");
        File.WriteAllText(inc, "\"|exit 0\"\n");
        var o = fx.Options($"x: :include:{inc}\ny: \"|exit 0\"\n");
        var t = Transport(fx, o);
        // Postfix default (alias, forward) forbids commands in :include: files.
        Assert.Equal(["x@host.example Bounced 5.7.1 mail to command is restricted"],
            Summary(await t.DeliverAsync(DeliveryFixture.Request("x@host.example", Message), default)));
        Assert.Equal(["y@host.example Sent 2.0.0 delivered to command: exit 0"],
            Summary(await t.DeliverAsync(DeliveryFixture.Request("y@host.example", Message), default)));
        t = fx.Transport(o with { MailToCommands = LocalSources.Include }, new UsersWithSystem(fx.Users));
        Assert.Equal(["x@host.example Sent 2.0.0 delivered to command: exit 0"],
            Summary(await t.DeliverAsync(DeliveryFixture.Request("x@host.example", Message), default)));
        Assert.Equal(["y@host.example Bounced 5.7.1 mail to command is restricted"],
            Summary(await t.DeliverAsync(DeliveryFixture.Request("y@host.example", Message), default)));
    }

    [Fact]
    public async Task As_root_a_command_runs_as_the_owner_of_a_non_root_alias_map()
    {
        var (fx, _) = Setup();
        using var cleanup = fx;
        var o = fx.Options("x: \"|id -u >&2; id -G >&2; exit 64\"\n");
        // Not root: the command keeps the daemon's (here the test's) own uid and groups.
        string expected = $"{LibC.geteuid()} {IdGroups()}";
        if (LibC.IsRoot)
        {
            Assert.Equal(0, Chown(Path.Combine(fx.Root, "aliases.db"), 4321, 4322));
            expected = "4321 4322"; // uid, then the groups: just the gid, as Postfix set_ugid()
            o = o with { Aliases = [AliasDatabase.Open(Path.Combine(fx.Root, "aliases"), fx.Log, fx.Clock)!] };
        }
        var result = Assert.Single((await Transport(fx, o).DeliverAsync(DeliveryFixture.Request("x@host.example", Message), default)).Results);
        Assert.Equal(DeliveryOutcome.Bounced, result.Outcome);
        Assert.Equal($"command line usage error. Command output: {expected}", result.Text);
    }

    [Fact]
    public async Task Mailbox_command_runs_as_the_recipient_with_the_message()
    {
        var (fx, output) = Setup("bob");
        using var cleanup = fx;
        var o = fx.Options() with { MailboxCommand = $"cat > {output}/$USER.$EXTENSION; exit 0", RecipientDelimiter = "+" };
        var r = await Transport(fx, o).DeliverAsync(DeliveryFixture.Request("bob+news@host.example", Message), default);
        Assert.Equal([$"bob+news@host.example Sent 2.0.0 delivered to command: {o.MailboxCommand}"], Summary(r));
        Assert.Contains("Delivered-To: bob+news@host.example\n", File.ReadAllText(Path.Combine(output, "bob.news")));
        Assert.False(File.Exists(Path.Combine(fx.Spool, "bob")));
    }

    /// <summary><c>id -G</c> of this process.</summary>
    private static string IdGroups()
    {
        using var id = Process.Start(new ProcessStartInfo("id", "-G") { RedirectStandardOutput = true })!;
        string groups = id.StandardOutput.ReadToEnd().Trim();
        id.WaitForExit();
        return groups;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(string path, int uid, int gid);
}
