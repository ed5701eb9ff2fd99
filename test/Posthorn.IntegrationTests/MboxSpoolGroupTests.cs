using System.Globalization;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 8): a Debian-style spool, <c>/var/mail</c> owned by root:mail with mode 2775, where only
/// the group may create files. Postfix local(8) delivers there as the recipient with the spool's group (so it can
/// make the dotlock); Dovecot takes <c>mail_privileged_group = mail</c> for its dotlocks. Posthorn's local delivery,
/// lmtpd and imapd must all lock, write and expunge the user's mbox there, leave the mbox the user's, and leave no
/// <c>USER.lock</c> behind.</summary>
public sealed class MboxSpoolGroupTests(ITestOutputHelper output)
{
    private const string Password = "spool-group-pass";
    private const string User = "nobody";

    /// <summary>A fact that runs only as root: an ordinary user cannot make a directory of root's with another group.</summary>
    public sealed class RootFactAttribute : FactAttribute
    {
        public RootFactAttribute()
        {
            if (!Unix.IsRoot) Skip = "needs root: the spool must be root:mail 2775 and the mail user another account (nobody)";
        }
    }

    private static async Task<string> RunAsync(string program, params string[] args)
    {
        var r = await ProcessRunner.RunAsync(program, args, TimeSpan.FromSeconds(10));
        Assert.True(r.ExitCode == 0, $"{program} {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    /// <summary>The gid of the group <c>mail</c>; a gid no account has when the system has no such group.</summary>
    private static async Task<uint> MailGidAsync()
    {
        var r = await ProcessRunner.RunAsync("getent", ["group", "mail"], TimeSpan.FromSeconds(10));
        return r.ExitCode == 0 ? uint.Parse(r.Stdout.Trim().Split(':')[2], CultureInfo.InvariantCulture) : 64123;
    }

    [RootFact]
    public async Task Local_delivery_lmtpd_and_imapd_lock_write_and_expunge_the_mbox_in_a_root_mail_2775_spool()
    {
        uint uid = await Unix.UidOfAsync(User) ?? throw new Xunit.Sdk.XunitException("this test needs the account nobody");
        uint gid = uint.Parse(await RunAsync("id", "-g", User), CultureInfo.InvariantCulture);
        uint mailGid = await MailGidAsync();
        var config = (TestConfig.Default with { SecondListenerCommand = "imapd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("mail_owner", "daemon");
        await using var d = DaemonProcess.Create(config, output);
        File.AppendAllText(Path.Combine(d.ConfigDir, "master.cf"), "lmtp-posthorn unix - - n - - lmtpd\n");
        string mbox = d.MboxOf(User), spool = Path.GetDirectoryName(mbox)!;
        await RunAsync("/bin/chown", $"0:{mailGid}", spool);
        await RunAsync("/bin/chmod", "2775", spool);
        string home = Directory.CreateDirectory(Path.Combine(d.ConfigDir, "home-" + User)).FullName;
        await RunAsync("/bin/chown", $"{uid}:{gid}", home);
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{User}:{{PLAIN}}{Password}:{uid}:{gid}::{home}::\n");
        await d.StartAsync();

        // local(8): the first delivery creates the mbox, as the user with the spool's group.
        string t1 = Token.New(), t2 = Token.New();
        string address = $"{User}@{TestConfig.Myhostname}";
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            string id = await smtp.SendMailAsync("alice@sender.example", address,
                $"From: Alice <alice@sender.example>\nSubject: spool group {t1}\n\nbody {t1}\n");
            await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{address}>", StringComparison.Ordinal)
                && l.Contains("status=sent (delivered to mailbox)", StringComparison.Ordinal), "local delivery to the mbox");
        }
        Assert.Equal(uid, await Unix.OwnerUidAsync(mbox));
        Assert.Equal(mailGid.ToString(CultureInfo.InvariantCulture), await RunAsync("stat", "-c", "%g", mbox));
        Assert.Equal("600", await RunAsync("stat", "-c", "%a", mbox));

        // lmtpd: the same code, the same locks.
        Assert.StartsWith($"250 2.0.0 <{address}>",
            await LmtpMboxTests.LmtpAsync(Path.Combine(d.ConfigDir, "queue", "private", "lmtp-posthorn"), address, LmtpMboxTests.Message(t2)));

        // imapd, as the user: EXPUNGE rewrites the mbox under the dotlock it may create only with the spool's group.
        using (var imap = new ImapClient { Timeout = 30_000 })
        {
            await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
            await imap.AuthenticateAsync(User, Password);
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            Assert.Equal(2, imap.Inbox.Count);
            await imap.Inbox.AddFlagsAsync(0, MessageFlags.Deleted, silent: true);
            await imap.Inbox.AddFlagsAsync(1, MessageFlags.Flagged, new HashSet<string> { "$Important" }, silent: true);
            await imap.Inbox.ExpungeAsync();
            Assert.Equal(1, imap.Inbox.Count);
            Assert.Equal($"lmtp mbox {t2}", (await imap.Inbox.GetMessageAsync(0)).Subject);
            await imap.DisconnectAsync(quit: true);
        }
        await Wait.UntilAsync(() => DaemonProcess.ReadAllShared(mbox).Contains("X-Keywords: $Important\n", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the keyword written at LOGOUT");
        string text = DaemonProcess.ReadAllShared(mbox);
        Assert.DoesNotContain(t1, text, StringComparison.Ordinal);
        Assert.Contains(t2, text, StringComparison.Ordinal);
        Assert.Contains("X-Status: F\n", text, StringComparison.Ordinal);
        // Still the user's file, and nothing else in the spool: no dotlock, no temp file.
        Assert.Equal(uid, await Unix.OwnerUidAsync(mbox));
        Assert.Equal([mbox], Directory.GetFileSystemEntries(spool));
        Assert.DoesNotContain("unable to", d.ReadMaillog(), StringComparison.Ordinal);
    }
}
