using Xunit;

namespace Posthorn.Tests.Qmgr;

/// <summary>postconf(5) local_destination_concurrency_limit (default 2): with local_destination_recipient_limit = 1
/// the destination is the recipient, so at most that many deliveries run at once per recipient, and other
/// recipients are not held up by them.</summary>
public sealed class LocalConcurrencyTests : IDisposable
{
    // The mailbox_command scripts and what they record, outside the harness (its main.cf names the script).
    private readonly string _dir = Directory.CreateTempSubdirectory("posthorn-concurrency-").FullName;

    // As root the commands run as default_privs (nobody), who must write here.
    public LocalConcurrencyTests() => File.SetUnixFileMode(_dir, (UnixFileMode)0x1FF);

    [Fact]
    public async Task No_more_deliveries_to_one_recipient_run_at_once_than_the_limit()
    {
        string run = Path.Combine(_dir, "running"), log = Path.Combine(_dir, "at-once");
        Directory.CreateDirectory(run);
        File.SetUnixFileMode(run, (UnixFileMode)0x1FF);
        // Each delivery counts the deliveries running with it (itself included), then takes a while.
        string script = Script("count.sh", $"cat >/dev/null\nmkdir {run}/$$\nls {run} | wc -l >> {log}\nsleep 0.3\nrmdir {run}/$$\n");
        using var h = new QmgrHarness($"alias_maps =\nmailbox_command = {script}\nlocal_destination_concurrency_limit = 2\n", "alice");
        for (int i = 0; i < 6; i++) await h.EnqueueAsync("sender@example.test", TimeSpan.Zero, "alice@mail.example.test");
        h.Start();
        await h.WaitIdleAsync();
        Assert.True(File.Exists(log), string.Join("\n", h.Lines));
        var counts = File.ReadAllLines(log).Select(l => int.Parse(l.Trim())).ToList();
        Assert.Equal(6, counts.Count);
        Assert.All(counts, n => Assert.InRange(n, 1, 2));
        Assert.Equal(6, h.Lines.Count(l => l.Contains("to=<alice@mail.example.test>") && l.Contains("status=sent")));
    }

    [Fact]
    public async Task A_recipient_whose_window_is_full_does_not_hold_up_another()
    {
        string started = Path.Combine(_dir, "alice-started"), flag = Path.Combine(_dir, "bob-delivered"), log = Path.Combine(_dir, "alice-saw");
        // alice's delivery waits (at most 20 s) for bob's: were both in one window of one slot, it would wait in vain.
        string script = Script("wait.sh",
            "cat >/dev/null\n" +
            $"if [ \"$USER\" = bob ]; then : > {flag}; exit 0; fi\n" +
            $": > {started}\n" +
            $"i=0; while [ ! -e {flag} ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done\n" +
            $"if [ -e {flag} ]; then echo seen >> {log}; else echo timeout >> {log}; fi\n");
        using var h = new QmgrHarness($"alias_maps =\nmailbox_command = {script}\nlocal_destination_concurrency_limit = 1\n", "alice", "bob");
        await h.EnqueueAsync("sender@example.test", TimeSpan.Zero, "alice@mail.example.test");
        h.Start();
        await Poll.Until(() => File.Exists(started), "alice's delivery under way");
        await h.EnqueueAsync("sender@example.test", TimeSpan.Zero, "bob@mail.example.test");
        h.Qmgr.Wake();
        await h.WaitIdleAsync();
        Assert.Equal(["seen"], File.ReadAllLines(log));
    }

    [Fact]
    public async Task A_recipient_is_settled_only_once_the_maildir_names_of_its_delivery_are_durable()
    {
        // One message to alice (Maildir) and bob, delivered in turn; bob's command waits while the test looks: alice is
        // settled by then, so new/ of her Maildir must have been fsynced: a done mark never outlives a name that was not
        // durable (the marks are written without fsync, QmgrService.DeliveryRound).
        string started = Path.Combine(_dir, "bob-started"), go = Path.Combine(_dir, "go");
        string script = Script("bob.sh", $"cat >/dev/null\n: > {started}\ni=0; while [ ! -e {go} ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done\n");
        string map = Path.Combine(_dir, "commands");
        File.WriteAllText(map, $"bob {script}\n");
        using var h = new QmgrHarness($"alias_maps =\nhome_mailbox = Maildir/\nmailbox_command_maps = texthash:{map}\n", "alice", "bob");
        var sync = Posthorn.Mail.Queue.DirectorySync.Shared(Path.Combine(h.Homes, "alice", "Maildir") + "/new");
        await h.EnqueueAsync("sender@example.test", TimeSpan.Zero, "alice@mail.example.test", "bob@mail.example.test");
        h.Start();
        await Poll.Until(() => File.Exists(started), "bob's delivery under way");
        Assert.Single(Directory.GetFiles(Path.Combine(h.Homes, "alice", "Maildir", "new")));
        Assert.True(sync.FsyncCount >= 1, "alice was settled before her Maildir's new/ was synced");
        File.WriteAllText(go, "");
        await h.WaitIdleAsync();
        Assert.Equal(2, h.Lines.Count(l => l.Contains("status=sent")));
    }

    private string Script(string name, string body)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return path;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
