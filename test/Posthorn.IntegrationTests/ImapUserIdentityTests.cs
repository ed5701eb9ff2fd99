using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (DESIGN.md decision 6, issue 8): started as root, the daemon works as mail_owner, and local
/// delivery writes a user's Maildir as that user (0700 directories, 0600 files). IMAP must still read, flag and expunge
/// that mail: imapd opens it with the user's identity, as Dovecot's imap process runs as the user.</summary>
/// <remarks>As an ordinary user there is no second identity: the flow runs as that user and the test says so.</remarks>
public sealed class ImapUserIdentityTests(ITestOutputHelper output)
{
    private const string Password = "identity-pass";

    [Fact]
    public async Task As_root_imapd_reads_flags_and_expunges_a_Maildir_the_daemon_user_cannot_open()
    {
        bool root = Unix.IsRoot;
        string user = root ? "nobody" : TestConfig.User;
        uint uid = root ? await Unix.UidOfAsync(user) ?? throw new Xunit.Sdk.XunitException("this test needs the account nobody") : Unix.EffectiveUid;
        if (!root) output.WriteLine($"not root: {user} is the daemon's own user; the identity switch is not shown");
        var config = (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = "imapd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");
        // The daemon drops from root to mail_owner "daemon": it cannot read nobody's 0600 files itself.
        if (root) config = config.With("mail_owner", "daemon");
        await using var d = DaemonProcess.Create(config, output);
        // Like a 1777 /var/mail: the user creates its own Maildir there.
        File.SetUnixFileMode(Path.GetDirectoryName(d.MaildirOf(user))!, (UnixFileMode)0x3FF);
        uint gid = root ? await GidOfAsync(user) : await GidOfAsync(TestConfig.User);
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{user}:{{PLAIN}}{Password}:{uid}:{gid}::{d.MaildirOf(user)}::\n");
        await d.StartAsync();

        string token = Token.New();
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            string id = await smtp.SendMailAsync("alice@sender.example", $"{user}@{TestConfig.Myhostname}",
                $"From: Alice <alice@sender.example>\nSubject: identity {token}\n\nbody {token}\n");
            await d.WaitForLogAsync($"{id}: removed");
        }
        Assert.Equal(uid, await Unix.OwnerUidAsync(d.MaildirOf(user)));

        using var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await imap.AuthenticateAsync(user, Password);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(1, imap.Inbox.Count);
        var message = await imap.Inbox.GetMessageAsync(0);
        Assert.Equal($"identity {token}", message.Subject);
        await imap.Inbox.AddFlagsAsync(0, MessageFlags.Seen, silent: true);
        Assert.Single(await imap.Inbox.SearchAsync(SearchQuery.Seen));
        await imap.Inbox.AddFlagsAsync(0, MessageFlags.Deleted, silent: true);
        await imap.Inbox.ExpungeAsync();
        Assert.Equal(0, imap.Inbox.Count);
        await imap.DisconnectAsync(quit: true);

        // Everything imapd made beside the mail (index, moved files) belongs to the user, not to mail_owner.
        // (SQLite's -wal/-shm files come and go with the index connection: only the index itself is checked.)
        foreach (var path in Directory.EnumerateFileSystemEntries(d.MaildirOf(user), "*", SearchOption.AllDirectories)
                     .Where(p => !p.EndsWith("-wal", StringComparison.Ordinal) && !p.EndsWith("-shm", StringComparison.Ordinal)))
            Assert.True(uid == await Unix.OwnerUidAsync(path), $"{path} is not owned by {user}");
        Assert.Empty(Directory.GetFiles(Path.Combine(d.MaildirOf(user), "cur")));
    }

    [Fact]
    public async Task A_Maildir_its_user_may_not_open_is_refused_with_an_internal_error_in_the_log()
    {
        // As root: a passwd-file user "nobody" whose Maildir belongs to root, mode 0700. As an ordinary user: a Maildir
        // of the current user with mode 0000 (an ordinary user cannot read past that either).
        bool root = Unix.IsRoot;
        string user = root ? "nobody" : TestConfig.User;
        uint uid = root ? await Unix.UidOfAsync(user) ?? throw new Xunit.Sdk.XunitException("this test needs the account nobody") : Unix.EffectiveUid;
        uint gid = await GidOfAsync(user);
        var config = (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = "imapd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");
        if (root) config = config.With("mail_owner", "daemon");
        await using var d = DaemonProcess.Create(config, output);
        string maildir = d.MaildirOf(user);
        foreach (var sub in new[] { "cur", "new", "tmp" }) Directory.CreateDirectory(Path.Combine(maildir, sub));
        File.SetUnixFileMode(maildir, root ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute : UnixFileMode.None);
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{user}:{{PLAIN}}{Password}:{uid}:{gid}::{maildir}::\n");
        try
        {
            await d.StartAsync();
            using var imap = new ImapClient { Timeout = 30_000 };
            await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
            // MailKit lists the mailboxes right after the login: that is where the refusal comes.
            await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                await imap.AuthenticateAsync(user, Password);
                await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            });
            await d.WaitForLogAsync(l => l.Contains($"imap({user}): Error: UnauthorizedAccessException", StringComparison.Ordinal), "the error line");
            await d.WaitForLogAsync(l => l.Contains($"imap({user}): Disconnected: Internal error occurred", StringComparison.Ordinal), "the disconnect line");
        }
        finally
        {
            File.SetUnixFileMode(maildir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public async Task As_root_an_mbox_INBOX_in_the_spool_is_served_as_its_user_with_the_index_in_a_directory_of_theirs()
    {
        bool root = Unix.IsRoot;
        string user = root ? "nobody" : TestConfig.User;
        uint uid = root ? await Unix.UidOfAsync(user) ?? throw new Xunit.Sdk.XunitException("this test needs the account nobody") : Unix.EffectiveUid;
        uint gid = await GidOfAsync(user);
        if (!root) output.WriteLine($"not root: {user} is the daemon's own user; the identity switch is not shown");
        var config = (TestConfig.Default with { SecondListenerCommand = "imapd" }).With("posthorn_passwd_file", "$config_directory/passwd");
        if (root) config = config.With("mail_owner", "daemon");
        await using var d = DaemonProcess.Create(config, output);
        File.SetUnixFileMode(Path.GetDirectoryName(d.MboxOf(user))!, (UnixFileMode)0x3FF);   // a 1777 spool
        string home = Directory.CreateDirectory(Path.Combine(d.ConfigDir, "home-" + user)).FullName;
        if (root) Assert.Equal(0, (await ProcessRunner.RunAsync("/bin/chown", [$"{uid}:{gid}", home], TimeSpan.FromSeconds(10))).ExitCode);
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{user}:{{PLAIN}}{Password}:{uid}:{gid}::{home}::\n");
        await d.StartAsync();

        string token = Token.New();
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            string id = await smtp.SendMailAsync("alice@sender.example", $"{user}@{TestConfig.Myhostname}",
                $"From: Alice <alice@sender.example>\nSubject: mbox identity {token}\n\nbody {token}\n");
            await d.WaitForLogAsync($"{id}: removed");
        }
        Assert.Equal(uid, await Unix.OwnerUidAsync(d.MboxOf(user)));

        using var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await imap.AuthenticateAsync(user, Password);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal($"mbox identity {token}", (await imap.Inbox.GetMessageAsync(0)).Subject);
        await imap.Inbox.AddFlagsAsync(0, MessageFlags.Deleted, silent: true);
        await imap.Inbox.ExpungeAsync();
        await imap.DisconnectAsync(quit: true);
        Assert.DoesNotContain(token, DaemonProcess.ReadAllShared(d.MboxOf(user)));
        Assert.Equal(uid, await Unix.OwnerUidAsync(d.MboxOf(user)));
        // The mbox index: under data_directory, in a 0700 directory of the user's own.
        string indexDir = Directory.GetDirectories(d.ConfigDir, user, SearchOption.AllDirectories)
            .Single(p => Path.GetFileName(Path.GetDirectoryName(p)) == "imapd-mbox");
        Assert.Equal(uid, await Unix.OwnerUidAsync(indexDir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(indexDir));
        Assert.True(File.Exists(Path.Combine(indexDir, "index.sqlite")));
    }

    private static async Task<uint> GidOfAsync(string user)
    {
        var r = await ProcessRunner.RunAsync("/usr/bin/id", ["-g", user], TimeSpan.FromSeconds(10));
        return uint.Parse(r.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
