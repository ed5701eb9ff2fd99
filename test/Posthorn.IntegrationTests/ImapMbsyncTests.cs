using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a user keeps a local copy of the mailbox with mbsync (Debian isync) and syncs it both ways:
/// mail delivered by the daemon comes down, local mail goes up, a flag set locally and a deletion on the server cross
/// over, and syncing again changes nothing: no message is lost and none is duplicated.</summary>
/// <remarks>isync 1.4 (Far/Near stores). The server side is Posthorn's imapd over the Maildir delivery writes.</remarks>
public sealed class ImapMbsyncTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private const string Password = "mbsync-pass";

    [Fact]
    public async Task Mbsync_syncs_both_ways_twice_with_no_loss_and_no_duplicate()
    {
        var config = (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = "imapd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");
        await using var d = await DaemonProcess.StartAsync(config, output, d =>
        {
            File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{User}:{{PLAIN}}{Password}::::{d.MaildirOf(User)}::\n");
            return Task.CompletedTask;
        });
        string token = Token.New();
        for (int i = 0; i < 3; i++) await DeliverAsync(d, $"<server-{i}.{token}@sender.example>");

        var local = Directory.CreateTempSubdirectory("posthorn-mbsync-");
        try
        {
            string inbox = Path.Combine(local.FullName, "INBOX");
            foreach (var sub in new[] { "cur", "new", "tmp" }) Directory.CreateDirectory(Path.Combine(inbox, sub));
            for (int i = 0; i < 2; i++)
                File.WriteAllText(Path.Combine(inbox, "new", $"17000000{i}.P1Q{i}.local"),
                    $"From: me@local.example\nTo: {User}@{TestConfig.Myhostname}\nSubject: local {i}\nMessage-ID: <local-{i}.{token}@local.example>\n\nwritten locally\n");
            string rc = Path.Combine(local.FullName, "mbsyncrc");
            File.WriteAllText(rc, $"""
                IMAPAccount posthorn
                Host 127.0.0.1
                Port {d.SecondSmtpPort}
                User {User}
                Pass {Password}
                SSLType None
                AuthMechs PLAIN

                IMAPStore far
                Account posthorn

                MaildirStore near
                Path {local.FullName}/
                Inbox {inbox}

                Channel box
                Far :far:
                Near :near:
                Patterns INBOX
                Create Both
                Expunge Both
                SyncState *
                Sync All

                """);

            // First round: three messages come down, two go up.
            await MbsyncAsync(rc);
            string[] all = [.. Enumerable.Range(0, 3).Select(i => $"<server-{i}.{token}@sender.example>"),
                            .. Enumerable.Range(0, 2).Select(i => $"<local-{i}.{token}@local.example>")];
            Assert.Equal(all.Order(), LocalIds(inbox).Order());
            Assert.Equal(all.Order(), (await ServerAsync(d)).Keys.Order());

            // Meanwhile: one message is read locally, one is deleted on the server, and new mail arrives.
            string readLocally = $"<local-0.{token}@local.example>";
            MarkSeenLocally(inbox, readLocally);
            string deleted = $"<server-1.{token}@sender.example>";
            using (var imap = await LoginAsync(d))
            {
                await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
                var uid = (await imap.Inbox.SearchAsync(SearchQuery.HeaderContains("Message-ID", deleted))).Single();
                await imap.Inbox.AddFlagsAsync(uid, MessageFlags.Deleted, silent: true);
                await imap.Inbox.ExpungeAsync();
                await imap.DisconnectAsync(quit: true);
            }
            string late = $"<server-late.{token}@sender.example>";
            await DeliverAsync(d, late);

            // Second round, and a third that must change nothing.
            for (int round = 0; round < 2; round++)
            {
                await MbsyncAsync(rc);
                string[] expected = [.. all.Where(id => id != deleted), late];
                Assert.Equal(expected.Order(), LocalIds(inbox).Order());
                var server = await ServerAsync(d);
                Assert.Equal(expected.Order(), server.Keys.Order());
                Assert.True(server[readLocally].HasFlag(MessageFlags.Seen), $"{readLocally} is {server[readLocally]} on the server");
                Assert.False(server[late].HasFlag(MessageFlags.Seen));
            }
        }
        finally
        {
            local.Delete(recursive: true);
        }
    }

    private async Task MbsyncAsync(string rc)
    {
        var r = await ExternalTool.RunAsync("mbsync", "isync", ["-c", rc, "-a"], TimeSpan.FromSeconds(60));
        output.WriteLine($"mbsync: {r}");
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    private static async Task DeliverAsync(DaemonProcess d, string messageId)
    {
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string id = await smtp.SendMailAsync("alice@sender.example", $"{User}@{TestConfig.Myhostname}",
            $"From: Alice <alice@sender.example>\nSubject: delivered\nMessage-ID: {messageId}\n\nbody\n");
        await smtp.CommandAsync("QUIT");
        await d.WaitForLogAsync($"{id}: removed");
    }

    private static async Task<ImapClient> LoginAsync(DaemonProcess d)
    {
        var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await imap.AuthenticateAsync(User, Password);
        return imap;
    }

    /// <summary>The server's INBOX: Message-ID (with brackets) → flags; a duplicate Message-ID fails the test.</summary>
    private static async Task<Dictionary<string, MessageFlags>> ServerAsync(DaemonProcess d)
    {
        using var imap = await LoginAsync(d);
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var result = new Dictionary<string, MessageFlags>();
        if (imap.Inbox.Count > 0)
            foreach (var s in await imap.Inbox.FetchAsync(0, -1, MessageSummaryItems.Envelope | MessageSummaryItems.Flags))
                result.Add($"<{s.Envelope!.MessageId}>", s.Flags ?? MessageFlags.None);
        await imap.DisconnectAsync(quit: true);
        return result;
    }

    /// <summary>The Message-IDs of the local Maildir's messages, one per file (duplicates are kept, to be seen).</summary>
    private static List<string> LocalIds(string maildir) =>
        [.. new[] { "cur", "new" }.SelectMany(sub => Directory.GetFiles(Path.Combine(maildir, sub))).Select(MessageIdOf)];

    private static string MessageIdOf(string file) =>
        File.ReadLines(file).TakeWhile(l => l.Length > 0)
            .First(l => l.StartsWith("Message-ID:", StringComparison.OrdinalIgnoreCase))["Message-ID:".Length..].Trim();

    /// <summary>As a local mail reader does: the file moves to cur/ with the S flag in its info (Maildir ":2,S").</summary>
    private static void MarkSeenLocally(string maildir, string messageId)
    {
        string file = new[] { "cur", "new" }.SelectMany(sub => Directory.GetFiles(Path.Combine(maildir, sub)))
            .Single(f => MessageIdOf(f) == messageId);
        string name = Path.GetFileName(file);
        int info = name.IndexOf(":2,", StringComparison.Ordinal);
        string flags = info < 0 ? "" : name[(info + 3)..];
        string bare = info < 0 ? name : name[..info];
        File.Move(file, Path.Combine(maildir, "cur", bare + ":2," + string.Concat((flags + "S").Distinct().Order())));
    }
}
