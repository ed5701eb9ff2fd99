using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a phone or desktop client that keeps a local cache reconnects and resynchronizes
/// with QRESYNC (RFC 7162): it learns which UIDs vanished and which flags changed while it was away,
/// without fetching the whole mailbox again. Mail is delivered by the daemon into the user's Maildir.</summary>
public sealed class ImapQresyncTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private const string Password = "qresync-pass";

    private async Task<DaemonProcess> StartAsync()
    {
        var config = (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = "imapd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");
        return await DaemonProcess.StartAsync(config, output, d =>
        {
            File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{User}:{{PLAIN}}{Password}::::{d.MaildirOf(User)}::\n");
            return Task.CompletedTask;
        });
    }

    private static async Task DeliverAsync(DaemonProcess d, string subject)
    {
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string id = await smtp.SendMailAsync("alice@sender.example", $"{User}@{TestConfig.Myhostname}",
            $"From: Alice <alice@sender.example>\nSubject: {subject}\n\nbody of {subject}\n");
        await smtp.CommandAsync("QUIT");
        await d.WaitForLogAsync($"{id}: removed");
    }

    private static async Task<ImapClient> LoginAsync(DaemonProcess d)
    {
        var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        // The daemon offers SCRAM from the {PLAIN} passwd-file entry; log in with it explicitly.
        Assert.Contains("SCRAM-SHA-256", imap.AuthenticationMechanisms);
        await imap.AuthenticateAsync(new SaslMechanismScramSha256(User, Password));
        return imap;
    }

    [Fact]
    public async Task MailKit_reopens_with_qresync_and_learns_vanished_uids_and_changed_flags()
    {
        await using var d = await StartAsync();
        for (int i = 0; i < 4; i++) await DeliverAsync(d, $"qresync {i}");

        // The "cache": UIDVALIDITY, HIGHESTMODSEQ and the UIDs the client knew when it went away.
        uint validity;
        ulong modseq;
        IList<UniqueId> known;
        using (var first = await LoginAsync(d))
        {
            Assert.True(first.Capabilities.HasFlag(ImapCapabilities.QuickResync), first.Capabilities.ToString());
            await first.Inbox.OpenAsync(FolderAccess.ReadOnly);
            validity = first.Inbox.UidValidity;
            modseq = first.Inbox.HighestModSeq;
            known = await first.Inbox.SearchAsync(SearchQuery.All);
            Assert.Equal(4, known.Count);
            await first.DisconnectAsync(quit: true);
        }

        // Meanwhile another client reads one message and deletes another; new mail arrives too.
        using (var other = await LoginAsync(d))
        {
            await other.Inbox.OpenAsync(FolderAccess.ReadWrite);
            await other.Inbox.AddFlagsAsync(known[1], MessageFlags.Seen, silent: true);
            await other.Inbox.AddFlagsAsync(known[2], MessageFlags.Deleted, silent: true);
            await other.Inbox.ExpungeAsync();
            await other.DisconnectAsync(quit: true);
        }
        await DeliverAsync(d, "qresync new");

        using var client = await LoginAsync(d);
        await client.EnableQuickResyncAsync();
        var vanished = new List<UniqueId>();
        var flagChanges = new List<(UniqueId? Uid, MessageFlags Flags)>();
        client.Inbox.MessagesVanished += (_, e) => { if (e.Earlier) vanished.AddRange(e.UniqueIds); };
        client.Inbox.MessageFlagsChanged += (_, e) => flagChanges.Add((e.UniqueId, e.Flags));
        await client.Inbox.OpenAsync(FolderAccess.ReadWrite, validity, modseq, known);

        Assert.Equal([known[2]], vanished);
        var seen = Assert.Single(flagChanges, c => c.Uid == known[1]);
        Assert.True(seen.Flags.HasFlag(MessageFlags.Seen));
        Assert.DoesNotContain(flagChanges, c => c.Uid == known[0] || c.Uid == known[3]);
        Assert.Equal(4, client.Inbox.Count);
        Assert.True(client.Inbox.HighestModSeq > modseq);

        // While selected, an expunge by this client comes back as VANISHED (not EXPUNGE), and MailKit
        // keeps its count right.
        var live = new List<UniqueId>();
        client.Inbox.MessagesVanished += (_, e) => { if (!e.Earlier) live.AddRange(e.UniqueIds); };
        await client.Inbox.AddFlagsAsync(known[0], MessageFlags.Deleted, silent: true);
        await client.Inbox.ExpungeAsync();
        Assert.Equal([known[0]], live);
        Assert.Equal(3, client.Inbox.Count);

        // SEARCH MODSEQ (RFC 7162 §3.1.5: "equal to or greater than"): only what changed after the cached
        // modseq, the \Seen message and the new one.
        var changed = await client.Inbox.SearchAsync(SearchQuery.ChangedSince(modseq + 1).And(SearchQuery.NotDeleted));
        Assert.Contains(known[1], changed);
        Assert.DoesNotContain(known[3], changed);
        Assert.Equal(2, changed.Count);
        await client.DisconnectAsync(quit: true);
    }
}
