using Posthorn.Config;
using Posthorn.Daemon.Smtpd;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;
using Xunit.Abstractions;

namespace Posthorn.Tests.Delivery;

/// <summary>virtual(8) with <c>static:5000</c> ids, virtual_minimum_uid and virtual_mailbox_limit, and
/// smtpd's RCPT check of virtual mailbox domains.</summary>
public class VirtualDeliveryTests(ITestOutputHelper output)
{
    private const string Message = "Subject: hi\n\nhello\n";
    private const uint VmailId = 5000;

    /// <summary>As root: the ids of the classic hosting setup (static:5000); otherwise our own, since only
    /// root can write files for another uid.</summary>
    private (uint Uid, uint Gid) Ids()
    {
        if (LibC.IsRoot) return (VmailId, VmailId);
        output.WriteLine("not root: virtual_uid_maps/virtual_gid_maps use the test's own ids; the ownership assertions for uid 5000 are skipped");
        return (LibC.geteuid(), LibC.getegid());
    }

    private static (DeliveryFixture Fx, string Base) Setup(uint uid, uint gid)
    {
        var fx = new DeliveryFixture();
        string vbase = Path.Combine(fx.Root, "vmail");
        Directory.CreateDirectory(vbase);
        File.SetUnixFileMode(fx.Root, (UnixFileMode)0x1ED);
        File.SetUnixFileMode(vbase, (UnixFileMode)0x1C0); // 0700, owned by the virtual user as an administrator sets it up
        if (LibC.IsRoot) Assert.Equal(0, Chown(vbase, (int)uid, (int)gid));
        return (fx, vbase);
    }

    private static VirtualDeliveryOptions Options(string vbase, uint uid, uint gid) => new()
    {
        MailboxDomains = ["example.org"],
        MailboxBase = vbase,
        MailboxMaps = k => k switch { "ann@example.org" => "example.org/ann/", "bob@example.org" => "example.org/bob.mbox", _ => null },
        UidMaps = VirtualTransport.Static(uid.ToString()),
        GidMaps = VirtualTransport.Static(gid.ToString()),
        MinimumUid = Math.Min(100, uid),
        DeliverLockAttempts = 2,
        DeliverLockDelay = TimeSpan.FromMilliseconds(10),
    };

    [Fact]
    public async Task Static_uid_and_gid_maps_own_every_file_and_directory_created()
    {
        var (uid, gid) = Ids();
        var (fx, vbase) = Setup(uid, gid);
        using var cleanup = fx;
        var t = new VirtualTransport(Options(vbase, uid, gid), fx.Clock, fx.Log);
        Assert.Equal("delivered to maildir", Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("ann@example.org", Message), default)).Results).Text);
        Assert.Equal("delivered to mailbox", Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@example.org", Message), default)).Results).Text);

        string maildir = Path.Combine(vbase, "example.org", "ann");
        string file = Assert.Single(Directory.GetFiles(Path.Combine(maildir, "new")));
        string mbox = Path.Combine(vbase, "example.org", "bob.mbox");
        // Postfix virtual(8): mailbox files 0600, Maildir directories 0700, all owned by the mapped ids.
        foreach (var (path, mode) in new[] { (file, 0x180u), (mbox, 0x180u), (Path.Combine(vbase, "example.org"), 0x1C0u), (maildir, 0x1C0u), (Path.Combine(maildir, "new"), 0x1C0u) })
        {
            Assert.True(LibC.TryLstat(path, out var st, out _), path);
            Assert.Equal((path, mode), (path, st.Mode & 0xFFF));
            Assert.Equal((path, uid, gid), (path, st.Uid, st.Gid));
        }
        Assert.StartsWith("From alice@remote.example  ", File.ReadAllText(mbox));
    }

    [Fact]
    public async Task A_uid_below_virtual_minimum_uid_defers_and_writes_nothing()
    {
        var (uid, gid) = Ids();
        var (fx, vbase) = Setup(uid, gid);
        using var cleanup = fx;
        var t = new VirtualTransport(Options(vbase, uid, gid) with { MinimumUid = (long)uid + 1 }, fx.Clock, fx.Log);
        var r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("ann@example.org", Message), default)).Results);
        Assert.Equal((DeliveryOutcome.Deferred, "4.3.5", "mail system configuration error"), (r.Outcome, r.Dsn.ToString(), r.Text));
        Assert.Contains(fx.LogLines.Lines, l => l.Contains("postfix/virtual[4242]: warning: bad or missing uid/gid for ann@example.org"));
        Assert.Empty(Directory.GetFileSystemEntries(vbase));
    }

    [Fact]
    public async Task Over_virtual_mailbox_limit_bounces_5_2_2_and_the_mailbox_stays_as_it_was()
    {
        var (uid, gid) = Ids();
        var (fx, vbase) = Setup(uid, gid);
        using var cleanup = fx;
        string domainDir = Path.Combine(vbase, "example.org");
        Directory.CreateDirectory(domainDir);
        if (LibC.IsRoot) Assert.Equal(0, Chown(domainDir, (int)uid, (int)gid));
        var t = new VirtualTransport(Options(vbase, uid, gid) with { MailboxLimit = 300 }, fx.Clock, fx.Log);
        Assert.Equal(DeliveryOutcome.Sent, Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@example.org", Message), default)).Results).Outcome);
        string mbox = Path.Combine(vbase, "example.org", "bob.mbox");
        byte[] before = File.ReadAllBytes(mbox);
        var r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@example.org", "Subject: big\n\n" + new string('x', 400) + "\n"), default)).Results);
        Assert.Equal((DeliveryOutcome.Bounced, "5.2.2"), (r.Outcome, r.Dsn.ToString()));
        Assert.EndsWith("File too large", r.Text);
        Assert.Equal(before, File.ReadAllBytes(mbox));
        r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("ann@example.org", "Subject: big\n\n" + new string('x', 400) + "\n"), default)).Results);
        Assert.Equal((DeliveryOutcome.Bounced, "5.2.2", "maildir delivery failed: error writing message: File too large"), (r.Outcome, r.Dsn.ToString(), r.Text));
        Assert.Empty(Directory.GetFiles(Path.Combine(vbase, "example.org", "ann", "tmp")));
    }

    [Fact]
    public async Task A_virtual_mbox_that_is_a_symlink_or_belongs_to_another_uid_is_refused()
    {
        var (uid, gid) = Ids();
        var (fx, vbase) = Setup(uid, gid);
        using var cleanup = fx;
        string domainDir = Path.Combine(vbase, "example.org");
        Directory.CreateDirectory(domainDir);
        if (LibC.IsRoot) Assert.Equal(0, Chown(domainDir, (int)uid, (int)gid));
        string victim = Path.Combine(fx.Root, "victim");
        File.WriteAllText(victim, "keep");
        File.CreateSymbolicLink(Path.Combine(domainDir, "bob.mbox"), victim);
        var t = new VirtualTransport(Options(vbase, uid, gid), fx.Clock, fx.Log);
        var r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@example.org", Message), default)).Results);
        Assert.Equal((DeliveryOutcome.Deferred, "cannot open file: file is a symbolic link"), (r.Outcome, r.Text[(r.Text.IndexOf(": ") + 2)..]));
        Assert.Equal("keep", File.ReadAllText(victim));
        Assert.Contains(fx.LogLines.Lines, l => l.Contains("to=<bob@example.org>") && l.Contains("status=deferred") && l.Contains("symbolic link"));

        if (!LibC.IsRoot)
        {
            output.WriteLine("not root: the wrong-owner case needs a file of another uid; skipped");
            return;
        }
        File.Delete(Path.Combine(domainDir, "bob.mbox"));
        File.WriteAllText(Path.Combine(domainDir, "bob.mbox"), "root's"); // root-owned, not uid 5000's,
        File.SetUnixFileMode(Path.Combine(domainDir, "bob.mbox"), (UnixFileMode)0x1B6); // and writable by anyone: only the owner check stops it
        r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@example.org", Message), default)).Results);
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.EndsWith("cannot open file: file has wrong owner", r.Text);
        Assert.Equal("root's", File.ReadAllText(Path.Combine(domainDir, "bob.mbox")));
    }

    private static VirtualRecipients Recipients(string dir, string extra = "")
    {
        File.WriteAllText(Path.Combine(dir, "vmailbox"), "ann@example.org example.org/ann/\n@example.net example.net/all/\n");
        File.WriteAllText(Path.Combine(dir, "valias"), "info@example.org ann@example.org\n");
        File.WriteAllText(Path.Combine(dir, "main.cf"), $"""
            myhostname = mail.example.test
            mydestination = localhost
            recipient_delimiter = +
            virtual_mailbox_domains = example.org, example.net
            virtual_mailbox_maps = texthash:{dir}/vmailbox
            virtual_alias_maps = texthash:{dir}/valias
            {extra}
            """);
        return VirtualRecipients.From(ConfigSnapshot.Load(dir));
    }

    [Fact]
    public void Smtpd_rejects_unknown_virtual_users_with_Postfix_text_and_accepts_known_ones()
    {
        var dir = Directory.CreateTempSubdirectory("posthorn-virtual-");
        try
        {
            var v = Recipients(dir.FullName);
            Assert.True(v.IsVirtualDomain("Example.ORG."));
            Assert.False(v.IsVirtualDomain("mail.example.test"));
            foreach (var known in new[] { "ann@example.org", "Ann+News@Example.org", "info@example.org", "anyone@example.net" })
                Assert.Null(v.Check(Posthorn.Core.SmtpPath.FromAddress(known)));
            Assert.Null(v.Check(Posthorn.Core.SmtpPath.FromAddress("whoever@elsewhere.example")));
            // Postfix smtpd(8) smtpd_reject_unlisted_recipient for virtual_mailbox_maps:
            Assert.Equal(new Posthorn.Core.SmtpReply(550, "5.1.1", "<bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table"),
                v.Check(Posthorn.Core.SmtpPath.FromAddress("bob@example.org")));

            Assert.Equal(450, Recipients(dir.FullName, "unknown_virtual_mailbox_reject_code = 450").Check(Posthorn.Core.SmtpPath.FromAddress("bob@example.org"))!.Value.Code);
            Assert.Null(Recipients(dir.FullName, "smtpd_reject_unlisted_recipient = no").Check(Posthorn.Core.SmtpPath.FromAddress("bob@example.org")));
            // A table that cannot be read never turns into "unknown": the client is told to try again.
            var failing = Recipients(dir.FullName, $"virtual_mailbox_maps = hash:{dir.FullName}/missing\nvirtual_alias_maps =");
            Assert.Equal(new Posthorn.Core.SmtpReply(451, "4.3.0", "<ann@example.org>: Recipient address rejected: Temporary lookup failure"),
                failing.Check(Posthorn.Core.SmtpPath.FromAddress("ann@example.org")));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(string path, int uid, int gid);
}
