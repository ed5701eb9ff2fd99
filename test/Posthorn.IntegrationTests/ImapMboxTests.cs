using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Search;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 8, "the mbox INBOX for mail_spool_directory users"): with home_mailbox empty,
/// local(8) delivers to the mbox mail_spool_directory/USER, and IMAP and POP3 serve that mbox as INBOX
/// (as Dovecot with <c>mail_location = mbox:~/mail:INBOX=/var/mail/%u</c>); mutt reading the same file
/// afterwards sees what the IMAP client left.</summary>
public sealed class ImapMboxTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private const string Password = "mbox-pass";

    /// <summary>The kit's default mbox spool (D/mail), a passwd-file whose home for USER has no Maildir.</summary>
    private static TestConfig WithMboxSpool(string command) => (TestConfig.Default with { SecondListenerCommand = command })
        .With("posthorn_passwd_file", "$config_directory/passwd");

    private static void WritePasswd(DaemonProcess d)
    {
        string home = Directory.CreateDirectory(Path.Combine(d.ConfigDir, "home-" + User)).FullName;
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{User}:{{PLAIN}}{Password}::::{home}::\n");
    }

    private static async Task SendAsync(DaemonProcess d, string token)
    {
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string id = await smtp.SendMailAsync("alice@sender.example", $"{User}@{TestConfig.Myhostname}",
            Token.Message($"mbox {token}", $"From the body {token}"));
        await smtp.CommandAsync("QUIT");
        await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{User}@{TestConfig.Myhostname}>", StringComparison.Ordinal)
            && l.Contains("status=sent (delivered to mailbox)", StringComparison.Ordinal), $"{id} delivered to the mbox");
    }

    private static async Task<ImapClient> LoginAsync(DaemonProcess d)
    {
        var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await imap.AuthenticateAsync(User, Password);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        return imap;
    }

    [Fact]
    public async Task Mail_delivered_to_the_spool_mbox_is_read_flagged_and_expunged_over_IMAP_and_mutt_agrees()
    {
        await using var d = await DaemonProcess.StartAsync(WithMboxSpool("imapd"), output);
        WritePasswd(d);
        string mbox = d.MboxOf(User);
        string t1 = Token.New(), t2 = Token.New();
        await SendAsync(d, t1);

        UniqueId uid1, uid2;
        uint validity;
        using (var imap = await LoginAsync(d))
        {
            var inbox = imap.Inbox;
            Assert.Equal(1, inbox.Count);
            var first = (await inbox.FetchAsync(0, -1, MessageSummaryItems.Envelope | MessageSummaryItems.UniqueId)).Single();
            Assert.Equal($"mbox {t1}", first.Envelope!.Subject);
            uid1 = first.UniqueId;
            validity = inbox.UidValidity;
            // The body as written, with the ">From " quoting of the mbox taken off.
            var message = await inbox.GetMessageAsync(uid1);
            Assert.Contains($"From the body {t1}", message.TextBody, StringComparison.Ordinal);
            Assert.Contains($">From the body {t1}", File.ReadAllText(mbox), StringComparison.Ordinal);

            // A message delivered while the session is open shows at NOOP.
            await SendAsync(d, t2);
            await Wait.UntilAsync(async () =>
            {
                await imap.NoOpAsync();
                return inbox.Count == 2;
            }, TimeSpan.FromSeconds(20), "the second message to show after NOOP");
            uid2 = (await inbox.SearchAsync(SearchQuery.SubjectContains(t2))).Single();
            Assert.True(uid2.Id > uid1.Id);
            await imap.DisconnectAsync(quit: true);
        }

        using (var imap = await LoginAsync(d))
        {
            // A new session: the same UIDs under the same UIDVALIDITY.
            var inbox = imap.Inbox;
            Assert.Equal(validity, inbox.UidValidity);
            var uids = await inbox.SearchAsync(SearchQuery.All);
            Assert.Equal([uid1, uid2], uids);

            await inbox.AddFlagsAsync(uid2, MessageFlags.Flagged | MessageFlags.Seen, silent: true);
            await inbox.AddFlagsAsync(uid1, MessageFlags.Deleted, silent: true);
            await inbox.ExpungeAsync();
            Assert.Equal(1, inbox.Count);
            Assert.DoesNotContain(t1, File.ReadAllText(mbox), StringComparison.Ordinal);
            Assert.Contains(t2, File.ReadAllText(mbox), StringComparison.Ordinal);
            await imap.DisconnectAsync(quit: true);
        }
        // LOGOUT wrote the flags into the headers mutt reads.
        await Wait.UntilAsync(() => File.ReadAllText(mbox).Contains("X-Status: F\n", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "X-Status: F in the mbox");
        Assert.Contains("Status: R\n", File.ReadAllText(mbox), StringComparison.Ordinal);

        var view = await Mutt.ReadFirstMessageAsync(mbox, Directory.CreateDirectory(Path.Combine(d.ConfigDir, "mutt")).FullName);
        Assert.Contains(MuttView.StatusLine(1), view.Screen, StringComparison.Ordinal);
        Assert.Contains($"[mbox {t2}]", view.Screen, StringComparison.Ordinal);
        Assert.DoesNotContain($"mbox {t1}", view.Screen, StringComparison.Ordinal);
        Assert.Contains($"From the body {t2}", view.Decoded, StringComparison.Ordinal);

        using (var imap = await LoginAsync(d))
        {
            var only = (await imap.Inbox.FetchAsync(0, -1, MessageSummaryItems.Flags | MessageSummaryItems.UniqueId)).Single();
            Assert.Equal(uid2, only.UniqueId);
            Assert.Equal(validity, imap.Inbox.UidValidity);
            Assert.True(only.Flags!.Value.HasFlag(MessageFlags.Flagged));
            await imap.DisconnectAsync(quit: true);
        }
    }

    [Fact]
    public async Task Mail_delivered_during_IDLE_is_announced_and_APPEND_writes_to_the_spool_mbox()
    {
        await using var d = await DaemonProcess.StartAsync(WithMboxSpool("imapd"), output);
        WritePasswd(d);
        string mbox = d.MboxOf(User);
        string t1 = Token.New(), t2 = Token.New(), t3 = Token.New();
        await SendAsync(d, t1);

        using var imap = await LoginAsync(d);
        var inbox = imap.Inbox;
        Assert.Equal(1, inbox.Count);
        using (var done = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            void Changed(object? sender, EventArgs e) => done.Cancel();
            inbox.CountChanged += Changed;
            var idle = imap.IdleAsync(done.Token);
            await SendAsync(d, t2);
            await idle;
            inbox.CountChanged -= Changed;
        }
        Assert.Equal(2, inbox.Count);

        // APPEND goes into the mbox, in mbox form, with a UID after the delivered ones.
        var appended = new MimeKit.MimeMessage();
        appended.From.Add(new MimeKit.MailboxAddress("Bob", "bob@example.test"));
        appended.Subject = $"mbox {t3}";
        appended.Body = new MimeKit.TextPart("plain") { Text = $"From the draft {t3}\n" };
        var uid = await inbox.AppendAsync(appended, MessageFlags.Draft);
        Assert.NotNull(uid);
        string text = File.ReadAllText(mbox);
        Assert.Contains("\nFrom MAILER-DAEMON  ", text, StringComparison.Ordinal);
        Assert.Contains($">From the draft {t3}", text, StringComparison.Ordinal);
        Assert.Contains("X-Status: T\n", text, StringComparison.Ordinal);
        await imap.NoOpAsync();
        Assert.Equal(3, inbox.Count);
        var last = (await inbox.FetchAsync([uid.Value], MessageSummaryItems.Envelope | MessageSummaryItems.Flags)).Single();
        Assert.Equal($"mbox {t3}", last.Envelope!.Subject);
        Assert.True(last.Flags!.Value.HasFlag(MessageFlags.Draft));
        Assert.Contains($"From the draft {t3}", (await inbox.GetMessageAsync(uid.Value)).TextBody, StringComparison.Ordinal);
        await imap.DisconnectAsync(quit: true);
    }

    [Fact]
    public async Task A_flag_set_by_mutt_in_the_mbox_shows_over_IMAP_under_the_same_UID()
    {
        string script = ExternalTool.Require("script", "bsdutils");
        ExternalTool.Require("mutt", "mutt");
        await using var d = await DaemonProcess.StartAsync(WithMboxSpool("imapd"), output);
        WritePasswd(d);
        string mbox = d.MboxOf(User);
        string t1 = Token.New();
        await SendAsync(d, t1);
        UniqueId uid;
        uint validity;
        using (var imap = await LoginAsync(d))
        {
            uid = (await imap.Inbox.SearchAsync(SearchQuery.All)).Single();
            validity = imap.Inbox.UidValidity;
            await imap.DisconnectAsync(quit: true);
        }

        // mutt flags the message and writes the mbox back (it rewrites in place, adding Status, X-Status,
        // Content-Length and Lines headers), then quits.
        string home = Directory.CreateDirectory(Path.Combine(d.ConfigDir, "mutt-flag")).FullName;
        string rc = Path.Combine(home, "muttrc");
        File.WriteAllText(rc, string.Join('\n', $"set folder=\"{home}\"", $"set spoolfile=\"{mbox}\"", "set mbox_type=mbox",
            "set move=no", "set quit=yes", "set wait_key=no", "set sleep_time=0", "set beep=no",
            "push \"<flag-message><sync-mailbox><quit>\"") + "\n");
        var env = new Dictionary<string, string?> { ["TERM"] = "xterm", ["HOME"] = home, ["MAIL"] = mbox, ["LANG"] = "C.UTF-8" };
        var result = await ProcessRunner.RunAsync(script, ["-qec", $"mutt -n -F '{rc}' -f '{mbox}'", "/dev/null"],
            TimeSpan.FromSeconds(60), env, workingDirectory: home, keepStdinOpen: true);
        Assert.True(result.ExitCode == 0, Mutt.StripTerminalControls(result.Stdout + result.Stderr));
        Assert.Contains("X-Status: F", File.ReadAllText(mbox), StringComparison.Ordinal);

        using (var imap = await LoginAsync(d))
        {
            var m = (await imap.Inbox.FetchAsync(0, -1, MessageSummaryItems.Flags | MessageSummaryItems.UniqueId | MessageSummaryItems.Envelope)).Single();
            Assert.Equal(validity, imap.Inbox.UidValidity);
            Assert.Equal(uid, m.UniqueId);
            Assert.True(m.Flags!.Value.HasFlag(MessageFlags.Flagged));
            Assert.Equal($"mbox {t1}", m.Envelope!.Subject);
            await imap.DisconnectAsync(quit: true);
        }
    }

    [Fact]
    public async Task Mail_delivered_by_SMTP_while_IMAP_expunges_rewrite_the_mbox_is_never_lost()
    {
        await using var d = await DaemonProcess.StartAsync(WithMboxSpool("imapd"), output);
        WritePasswd(d);
        string mbox = d.MboxOf(User);
        await SendAsync(d, Token.New());
        using var imap = await LoginAsync(d);
        var inbox = imap.Inbox;
        int expunged = 0;
        inbox.MessageExpunged += (_, _) => expunged++;

        // Local delivery appends under the dotlock and fcntl lock while each EXPUNGE rewrites the mbox under
        // the same locks: whatever the interleaving, every message is either expunged after it was seen, or still there.
        const int count = 12;
        var sending = Task.Run(async () =>
        {
            for (int i = 0; i < count; i++) await SendAsync(d, Token.New());
        });
        while (!sending.IsCompleted)
        {
            await imap.NoOpAsync();
            if (inbox.Count == 0) continue;
            await inbox.AddFlagsAsync(Enumerable.Range(0, inbox.Count).ToList(), MessageFlags.Deleted, silent: true);
            await inbox.ExpungeAsync();
        }
        await sending;
        await imap.NoOpAsync();
        int inFile = File.ReadAllLines(mbox).Count(l => l.StartsWith("From ", StringComparison.Ordinal));
        Assert.Equal(count + 1, expunged + inFile);
        Assert.Equal(inFile, inbox.Count);
        await imap.DisconnectAsync(quit: true);
    }

    [Fact]
    public async Task Mail_in_the_spool_mbox_is_listed_with_stable_UIDLs_and_deleted_over_POP3()
    {
        await using var d = await DaemonProcess.StartAsync(WithMboxSpool("pop3d"), output);
        WritePasswd(d);
        string mbox = d.MboxOf(User);
        string t1 = Token.New(), t2 = Token.New();
        await SendAsync(d, t1);
        await SendAsync(d, t2);

        string keptUidl;
        using (var pop = new Pop3Client { Timeout = 30_000 })
        {
            await pop.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
            await pop.AuthenticateAsync(User, Password);
            Assert.Equal(2, pop.Count);
            var uidls = await pop.GetMessageUidsAsync();
            Assert.Equal($"mbox {t1}", (await pop.GetMessageAsync(0)).Subject);
            Assert.Equal($"mbox {t2}", (await pop.GetMessageAsync(1)).Subject);
            keptUidl = uidls[1];
            await pop.DeleteMessageAsync(0);
            await pop.DisconnectAsync(quit: true);
        }
        await Wait.UntilAsync(() => !File.ReadAllText(mbox).Contains(t1, StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the deleted message gone from the mbox after QUIT");
        Assert.Contains(t2, File.ReadAllText(mbox), StringComparison.Ordinal);

        using (var pop = new Pop3Client { Timeout = 30_000 })
        {
            await pop.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
            await pop.AuthenticateAsync(User, Password);
            Assert.Equal(1, pop.Count);
            Assert.Equal(keptUidl, (await pop.GetMessageUidsAsync()).Single());
            await pop.DisconnectAsync(quit: true);
        }
    }
}
