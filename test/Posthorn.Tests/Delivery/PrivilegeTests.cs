using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>DESIGN.md decision 6: as root, mailboxes are written as their owner; as anyone else,
/// only one's own mailbox can be written.</summary>
public class PrivilegeTests
{
    private const string Message = "Subject: hi\n\nhello\n";

    private static SystemUser Nobody(string home)
    {
        Assert.True(new PasswdUserDatabase().TryGetUser("nobody", out var nobody), "this test needs the account nobody");
        return nobody with { Home = home };
    }

    private sealed class OneUser(SystemUser user) : IUserDatabase
    {
        public bool TryGetUser(string name, out SystemUser u)
        {
            u = user;
            return name == user.Name;
        }
    }

    private static (DeliveryFixture Fx, SystemUser Nobody) Setup(UnixFileMode spoolMode)
    {
        var fx = new DeliveryFixture();
        var nobody = Nobody(Path.Combine(fx.Root, "home", "nobody"));
        Directory.CreateDirectory(nobody.Home);
        File.SetUnixFileMode(fx.Root, (UnixFileMode)0x1ED); // 0755: others may pass through
        File.SetUnixFileMode(fx.Spool, spoolMode);
        return (fx, nobody);
    }

    [Theory]
    [InlineData(0x3FF)] // 1777: written as the user
    [InlineData(0x1ED)] // 0755: created by root, then given to the user
    [InlineData(0x1FD)] // 0775: written as the user with the spool's group
    public async Task Spool_mailbox_of_another_user_belongs_to_that_user_or_is_refused_when_not_root(int mode)
    {
        var (fx, nobody) = Setup((UnixFileMode)mode);
        using var cleanup = fx;
        string mbox = Path.Combine(fx.Spool, "nobody");
        var r = await fx.Transport(users: new OneUser(nobody)).DeliverAsync(DeliveryFixture.Request("nobody@host.example", Message), default);
        var result = Assert.Single(r.Results);

        if (!LibC.IsRoot)
        {
            // Not root: another user's mailbox cannot be written; the mail waits in the queue.
            Assert.Equal((DeliveryOutcome.Deferred, "4.2.0"), (result.Outcome, result.Dsn.ToString()));
            Assert.Equal($"cannot update mailbox {mbox} for user nobody. cannot open file: Permission denied", result.Text);
            Assert.False(File.Exists(mbox));
            return;
        }
        Assert.Equal("delivered to mailbox", result.Text);
        Assert.True(LibC.TryLstat(mbox, out var st, out _));
        Assert.Equal((uint)nobody.Uid, st.Uid);
        Assert.Equal(mode == 0x1FD ? 0u : (uint)nobody.Gid, st.Gid); // the spool directory's group is root's here
        Assert.Equal(0x180u, st.Mode & 0xFFF);
    }

    [Fact]
    public async Task As_root_a_mailbox_owned_by_someone_else_is_not_written()
    {
        var (fx, nobody) = Setup((UnixFileMode)0x1ED);
        using var cleanup = fx;
        string mbox = Path.Combine(fx.Spool, "nobody");
        File.WriteAllText(mbox, "root's file");
        var r = await fx.Transport(users: new OneUser(nobody)).DeliverAsync(DeliveryFixture.Request("nobody@host.example", Message), default);
        var result = Assert.Single(r.Results);
        Assert.Equal(DeliveryOutcome.Deferred, result.Outcome);
        // As root the owner check refuses it; as anyone else the user check does.
        Assert.EndsWith(LibC.IsRoot ? "cannot open file: file has wrong owner" : "cannot open file: Permission denied", result.Text);
        Assert.Equal("root's file", File.ReadAllText(mbox));
    }

    [Fact]
    public async Task As_root_a_Maildir_is_written_with_the_users_rights_only()
    {
        var (fx, nobody) = Setup((UnixFileMode)0x1ED);
        using var cleanup = fx;
        var t = fx.Transport(fx.Options() with { HomeMailbox = "Maildir/" }, new OneUser(nobody));
        // The home belongs to the test's user (mode 0755): nobody may not create Maildir in it.
        var r = await t.DeliverAsync(DeliveryFixture.Request("nobody@host.example", Message), default);
        var denied = Assert.Single(r.Results);
        Assert.Equal(DeliveryOutcome.Deferred, denied.Outcome);
        Assert.False(Directory.Exists(Path.Combine(nobody.Home, "Maildir")));
        if (!LibC.IsRoot)
        {
            Assert.Equal("maildir delivery failed: cannot open file: Permission denied", denied.Text);
            return;
        }
        Assert.Equal($"maildir delivery failed: create maildir file {nobody.Home}/Maildir: Permission denied", denied.Text);

        // Once the home is nobody's, the Maildir is created and filled as nobody.
        Assert.Equal(0, Chown(nobody.Home, nobody.Uid, nobody.Gid));
        r = await t.DeliverAsync(DeliveryFixture.Request("nobody@host.example", Message), default);
        Assert.Equal("delivered to maildir", Assert.Single(r.Results).Text);
        string file = Assert.Single(Directory.GetFiles(Path.Combine(nobody.Home, "Maildir", "new")));
        Assert.True(LibC.TryLstat(file, out var st, out _));
        Assert.Equal((uint)nobody.Uid, st.Uid);
        Assert.True(LibC.TryLstat(Path.Combine(nobody.Home, "Maildir", "new"), out st, out _));
        Assert.Equal((uint)nobody.Uid, st.Uid);
    }

    [Fact]
    public async Task As_root_a_Maildir_in_the_spool_is_created_as_the_user_never_as_root()
    {
        // mail_spool_directory ending in "/" (Maildir per user) in a root-owned 0755 spool: Postfix
        // maildir.c delivers with the recipient's rights, so nobody cannot create it there...
        var (fx, nobody) = Setup((UnixFileMode)0x1ED);
        using var cleanup = fx;
        var t = fx.Transport(fx.Options() with { MailSpoolDirectory = fx.Spool + "/" }, new OneUser(nobody));
        var r = await t.DeliverAsync(DeliveryFixture.Request("nobody@host.example", Message), default);
        Assert.Equal(DeliveryOutcome.Deferred, Assert.Single(r.Results).Outcome);
        Assert.False(Directory.Exists(Path.Combine(fx.Spool, "nobody")));
        if (!LibC.IsRoot) return;

        // ...and once the administrator gives nobody its directory, everything in it is nobody's.
        Directory.CreateDirectory(Path.Combine(fx.Spool, "nobody"));
        Assert.Equal(0, Chown(Path.Combine(fx.Spool, "nobody"), nobody.Uid, nobody.Gid));
        r = await t.DeliverAsync(DeliveryFixture.Request("nobody@host.example", Message), default);
        Assert.Equal("delivered to maildir", Assert.Single(r.Results).Text);
        foreach (var sub in new[] { "tmp", "new", "cur" })
        {
            Assert.True(LibC.TryLstat(Path.Combine(fx.Spool, "nobody", sub), out var st, out _));
            Assert.Equal((uint)nobody.Uid, st.Uid);
        }
    }

    /// <summary>Mail for root with no alias (Postfix local(8) MAILBOX DELIVERY): the mailbox is root's own
    /// (root-owned, 0600), but a mailbox_command for root runs with default_privs, never as root.</summary>
    [Fact]
    public async Task As_root_mail_for_root_without_an_alias_goes_to_roots_mailbox_and_its_mailbox_command_runs_as_default_privs()
    {
        var (fx, nobody) = Setup((UnixFileMode)0x1ED);
        using var cleanup = fx;
        var root = new SystemUser("root", 0, 0, Path.Combine(fx.Root, "home", "root"), "/bin/sh");
        var users = new RootAndNobody(root, nobody);
        if (!LibC.IsRoot)
        {
            // Not root: root's mailbox cannot be written; the mail waits in the queue.
            var denied = await fx.Transport(users: users).DeliverAsync(DeliveryFixture.Request("root@host.example", Message), default);
            Assert.Equal(DeliveryOutcome.Deferred, Assert.Single(denied.Results).Outcome);
            Console.WriteLine("not root: only the refusal is checked; the ownership rules need root");
            return;
        }
        var r = await fx.Transport(users: users).DeliverAsync(DeliveryFixture.Request("root@host.example", Message), default);
        Assert.Equal("delivered to mailbox", Assert.Single(r.Results).Text);
        Assert.True(LibC.TryLstat(Path.Combine(fx.Spool, "root"), out var st, out _));
        Assert.Equal((0u, 0x180u), (st.Uid, st.Mode & 0xFFF));

        string output = Path.Combine(fx.Root, "out");
        Directory.CreateDirectory(output);
        File.SetUnixFileMode(output, (UnixFileMode)0x1FF); // 0777: default_privs may write here
        var o = fx.Options() with { MailboxCommand = $"id -u > {output}/uid", DefaultPrivs = "nobody" };
        r = await fx.Transport(o, users).DeliverAsync(DeliveryFixture.Request("root@host.example", Message), default);
        Assert.Equal(DeliveryOutcome.Sent, Assert.Single(r.Results).Outcome);
        Assert.Equal(nobody.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(output, "uid")).Trim());
    }

    private sealed class RootAndNobody(SystemUser root, SystemUser nobody) : IUserDatabase
    {
        public bool TryGetUser(string name, out SystemUser u)
        {
            u = name == "root" ? root : nobody;
            return name is "root" or "nobody";
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(string path, int uid, int gid);
}
