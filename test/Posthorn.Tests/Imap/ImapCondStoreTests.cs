using MailKit;
using MailKit.Net.Imap;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>CONDSTORE (RFC 7162 §3.1) with MailKit: HIGHESTMODSEQ, FETCH CHANGEDSINCE, STORE UNCHANGEDSINCE.</summary>
public sealed class ImapCondStoreTests
{
    [Fact]
    public async Task MailKit_fetches_changes_since_a_modseq_and_a_conditional_store_reports_modified_messages()
    {
        await using var server = new ImapTestServer();
        server.Deliver("one");
        server.Deliver("two");
        using var client = new ImapClient();
        await client.ConnectAsync("127.0.0.1", server.ImapPort, MailKit.Security.SecureSocketOptions.None);
        await client.AuthenticateAsync("alice", "secret");
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.CondStore));
        var inbox = client.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        ulong start = inbox.HighestModSeq;
        Assert.True(start > 0);
        var all = await inbox.FetchAsync(0, -1, new FetchRequest(MessageSummaryItems.UniqueId | MessageSummaryItems.ModSeq));
        Assert.All(all, m => Assert.True(m.ModSeq <= start));
        var (first, second) = (all[0].UniqueId, all[1].UniqueId);

        await inbox.AddFlagsAsync(first, MessageFlags.Flagged, silent: true);
        var changed = await inbox.FetchAsync(0, -1, new FetchRequest(MessageSummaryItems.UniqueId | MessageSummaryItems.Flags) { ChangedSince = start });
        var only = Assert.Single(changed);
        Assert.Equal(first, only.UniqueId);
        Assert.True(only.ModSeq > start);
        Assert.True(only.Flags!.Value.HasFlag(MessageFlags.Flagged));

        // The first message changed after "start": a store unchanged since then must leave it alone.
        var unmodified = await inbox.StoreAsync([first, second],
            new StoreFlagsRequest(StoreAction.Add, MessageFlags.Seen) { Silent = true, UnchangedSince = start });
        Assert.Equal([first], unmodified);
        var flags = await inbox.FetchAsync([first, second], new FetchRequest(MessageSummaryItems.Flags | MessageSummaryItems.UniqueId));
        Assert.False(flags.Single(m => m.UniqueId == first).Flags!.Value.HasFlag(MessageFlags.Seen));
        Assert.True(flags.Single(m => m.UniqueId == second).Flags!.Value.HasFlag(MessageFlags.Seen));
        await client.DisconnectAsync(true);

        // The mod-sequences survive the session: a new one starts at least where this one ended.
        using var again = new ImapClient();
        await again.ConnectAsync("127.0.0.1", server.ImapPort, MailKit.Security.SecureSocketOptions.None);
        await again.AuthenticateAsync("alice", "secret");
        await again.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.True(again.Inbox.HighestModSeq > start);
        await again.DisconnectAsync(true);
    }
}
