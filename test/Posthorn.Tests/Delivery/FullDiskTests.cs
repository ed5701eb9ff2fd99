using System.Diagnostics;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;
using Xunit.Abstractions;

namespace Posthorn.Tests.Delivery;

/// <summary>A full file system (ENOSPC) defers the delivery, 4.3.0, and leaves the mailbox as it was
/// (Postfix mail_copy(3) truncates a half-written mbox back). Needs root, for a small tmpfs.</summary>
public class FullDiskTests(ITestOutputHelper output)
{
    private const string Small = "Subject: small\n\nfits\n";
    private static readonly string Big = "Subject: big\n\n" + string.Concat(Enumerable.Repeat(new string('x', 76) + "\n", 2000));

    [Fact]
    public async Task An_mbox_on_a_full_disk_is_deferred_and_truncated_back()
    {
        using var fx = new DeliveryFixture("bob");
        if (!TryMountTmpfs(fx.Spool)) return;
        try
        {
            string mbox = Path.Combine(fx.Spool, "bob");
            var t = fx.Transport(fx.Options() with { MailboxSizeLimit = 0 });
            Assert.Equal("delivered to mailbox", Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Small), default)).Results).Text);
            byte[] before = File.ReadAllBytes(mbox);

            var result = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Big), default)).Results);
            Assert.Equal((DeliveryOutcome.Deferred, "4.3.0"), (result.Outcome, result.Dsn.ToString()));
            // Postfix: "cannot update mailbox … for user bob. error writing message: No space left on device".
            Assert.StartsWith($"cannot update mailbox {mbox} for user bob. ", result.Text);
            Assert.EndsWith("No space left on device", result.Text);
            Assert.Equal(before, File.ReadAllBytes(mbox));
            Assert.False(File.Exists(mbox + ".lock"));
        }
        finally
        {
            Unmount(fx.Spool);
        }
    }

    [Fact]
    public async Task A_maildir_on_a_full_disk_is_deferred_and_leaves_no_file()
    {
        using var fx = new DeliveryFixture("bob");
        string home = Path.Combine(fx.Root, "home", "bob");
        if (!TryMountTmpfs(home)) return;
        try
        {
            var t = fx.Transport(fx.Options() with { HomeMailbox = "Maildir/", MailboxSizeLimit = 0 });
            Assert.Equal(DeliveryOutcome.Sent, Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Small), default)).Results).Outcome);

            var result = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Big), default)).Results);
            Assert.Equal((DeliveryOutcome.Deferred, "4.3.0"), (result.Outcome, result.Dsn.ToString()));
            Assert.StartsWith("maildir delivery failed: ", result.Text);
            Assert.EndsWith("No space left on device", result.Text);
            // The first message only: nothing half-written stays in tmp/ or new/.
            Assert.Single(Directory.GetFiles(Path.Combine(home, "Maildir", "new")));
            Assert.Empty(Directory.GetFiles(Path.Combine(home, "Maildir", "tmp")));
        }
        finally
        {
            Unmount(home);
        }
    }

    /// <summary>Mounts a 64 KiB tmpfs on <paramref name="dir"/>; false (with the reason in the test
    /// output) when that is not possible here.</summary>
    private bool TryMountTmpfs(string dir)
    {
        if (!LibC.IsRoot)
        {
            output.WriteLine("not root: cannot mount a small tmpfs to fill up; the full-disk path is not checked");
            return false;
        }
        var (rc, text) = Run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", dir);
        if (rc != 0) output.WriteLine($"mount -t tmpfs is not permitted here (exit {rc}: {text.Trim()}); the full-disk path is not checked");
        return rc == 0;
    }

    private static void Unmount(string dir)
    {
        if (Run("umount", dir).Rc != 0) Run("umount", "-l", dir);
    }

    private static (int Rc, string Output) Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, text);
    }
}
