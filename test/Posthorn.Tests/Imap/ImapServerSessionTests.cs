using Xunit;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MimeKit;

namespace Posthorn.Tests.Imap;

/// <summary>imapd against MailKit's ImapClient over a real loopback connection.</summary>
public sealed class ImapServerSessionTests
{
    private static async Task<ImapClient> ConnectAsync(ImapTestServer server)
    {
        var client = new ImapClient();
        await client.ConnectAsync("127.0.0.1", server.ImapPort, MailKit.Security.SecureSocketOptions.None);
        // PLAIN by name: MailKit would otherwise pick SCRAM-SHA-256, which a {PLAIN} passwd-file also offers.
        await client.AuthenticateAsync(new MailKit.Security.SaslMechanismPlain("alice", "secret"));
        return client;
    }

    [Fact]
    public async Task Login_select_and_fetch_envelope_and_body()
    {
        await using var server = new ImapTestServer();
        server.Deliver("First", "Line one.\nLine two.\n");
        using var client = await ConnectAsync(server);
        var inbox = client.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(1, inbox.Count);
        var summary = (await inbox.FetchAsync(0, -1, MessageSummaryItems.Envelope | MessageSummaryItems.UniqueId
            | MessageSummaryItems.Size | MessageSummaryItems.BodyStructure)).Single();
        Assert.Equal("First", summary.Envelope!.Subject);
        Assert.Equal("bob@example.test", ((MailboxAddress)summary.Envelope.From.Single()).Address);
        Assert.Equal("Bob", summary.Envelope.From.Single().Name);
        var message = await inbox.GetMessageAsync(summary.UniqueId);
        Assert.Equal("Line one.\r\nLine two.\r\n", ((TextPart)message.Body!).Text.ReplaceLineEndings("\r\n"));
        // The size counts CRLF line ends although the file has LF only.
        Assert.Equal((uint)ImapMessageSize(server), summary.Size);
        await client.DisconnectAsync(true);
        Assert.Contains(server.LogSink.Lines, l => l.Contains("dovecot[4242]: imap-login: Login: user=<alice>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured"));
        await WaitAsync(() => server.LogSink.Lines.Any(l => l.Contains("dovecot[4242]: imap(alice): Disconnected: Logged out in=")));
    }

    private static long ImapMessageSize(ImapTestServer server)
    {
        var bytes = File.ReadAllBytes(Directory.GetFiles(Path.Combine(server.Maildir, "cur")).Single());
        return bytes.Length + bytes.Count(b => b == (byte)'\n');
    }

    [Fact]
    public async Task Wrong_password_is_refused_and_logged_as_auth_failed()
    {
        await using var server = new ImapTestServer();
        using var client = new ImapClient();
        await client.ConnectAsync("127.0.0.1", server.ImapPort, MailKit.Security.SecureSocketOptions.None);
        await Assert.ThrowsAsync<MailKit.Security.AuthenticationException>(() => client.AuthenticateAsync(new MailKit.Security.SaslMechanismPlain("alice", "wrong")));
        await client.DisconnectAsync(true);
        await WaitAsync(() => server.LogSink.Lines.Any(l => l.Contains("dovecot[4242]: imap-login: Disconnected (auth failed, 1 attempts in")));
    }

    [Fact]
    public async Task Search_store_and_expunge_keep_the_maildir_in_step()
    {
        await using var server = new ImapTestServer();
        server.Deliver("Apples", "red fruit\n");
        server.Deliver("Pears", "green fruit\n", from: "carol@example.test");
        server.Deliver("Plums", "purple\n");
        using var client = await ConnectAsync(server);
        var inbox = client.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(3, (await inbox.SearchAsync(SearchQuery.All)).Count);
        Assert.Single(await inbox.SearchAsync(SearchQuery.FromContains("carol")));
        Assert.Equal(2, (await inbox.SearchAsync(SearchQuery.BodyContains("fruit"))).Count);
        Assert.Single(await inbox.SearchAsync(SearchQuery.SubjectContains("plum").Or(SearchQuery.SubjectContains("nothing"))));
        Assert.Equal(2, (await inbox.SearchAsync(SearchQuery.Not(SearchQuery.SubjectContains("pears")))).Count);

        var uids = await inbox.SearchAsync(SearchQuery.SubjectContains("Apples"));
        await inbox.AddFlagsAsync(uids, MessageFlags.Seen | MessageFlags.Flagged, true);
        Assert.Contains(server.CurFiles(), f => f.EndsWith(":2,FS", StringComparison.Ordinal));
        Assert.Single(await inbox.SearchAsync(SearchQuery.Flagged));
        Assert.Equal(2, (await inbox.SearchAsync(SearchQuery.NotSeen)).Count);

        var pears = await inbox.SearchAsync(SearchQuery.SubjectContains("Pears"));
        await inbox.AddFlagsAsync(pears, MessageFlags.Deleted, true);
        Assert.Contains(server.CurFiles(), f => f.EndsWith(":2,T", StringComparison.Ordinal));
        await inbox.ExpungeAsync();
        Assert.Equal(2, inbox.Count);
        Assert.Equal(2, server.CurFiles().Length);
        Assert.DoesNotContain(server.CurFiles(), f => f.Contains(":2,T", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Append_copy_and_move_give_uidplus_answers()
    {
        await using var server = new ImapTestServer();
        server.Deliver("One");
        using var client = await ConnectAsync(server);
        var personal = client.GetFolder(client.PersonalNamespaces[0]);
        var archive = (await personal.CreateAsync("Archive", true))!;
        Assert.True(Directory.Exists(Path.Combine(server.Maildir, ".Archive", "cur")));

        var appended = await client.Inbox.AppendAsync(new MimeMessage(
            [new MailboxAddress("Dan", "dan@example.test")], [new MailboxAddress("", "alice@example.test")], "Appended",
            new TextPart("plain") { Text = "appended body" }), MessageFlags.Seen);
        Assert.NotNull(appended);
        Assert.Contains(server.CurFiles(), f => f.EndsWith(":2,S", StringComparison.Ordinal));

        var inbox = client.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(2, inbox.Count);
        var copied = await inbox.CopyToAsync(new UniqueId(appended.Value.Id), archive);
        Assert.NotNull(copied);
        Assert.Single(server.CurFiles(".Archive"));

        var moved = await inbox.MoveToAsync(new UniqueId(1), archive);
        Assert.NotNull(moved);
        Assert.Equal(1, inbox.Count);
        Assert.Equal(2, server.CurFiles(".Archive").Length);
        await archive.OpenAsync(FolderAccess.ReadOnly);
        var subjects = (await archive.FetchAsync(0, -1, MessageSummaryItems.Envelope)).Select(s => s.Envelope!.Subject!).Order().ToArray();
        Assert.Equal(["Appended", "One"], subjects);
    }

    [Fact]
    public async Task Idle_sees_a_message_dropped_into_new()
    {
        await using var server = new ImapTestServer();
        using var client = await ConnectAsync(server);
        var inbox = client.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(0, inbox.Count);
        var arrived = new TaskCompletionSource();
        inbox.CountChanged += (_, _) => arrived.TrySetResult();
        using var done = new CancellationTokenSource();
        var idle = client.IdleAsync(done.Token);
        server.Deliver("Fresh");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        done.Cancel();
        await idle;
        Assert.Equal(1, inbox.Count);
    }

    [Fact]
    public async Task Two_sessions_see_each_others_flag_changes()
    {
        await using var server = new ImapTestServer();
        server.Deliver("Shared");
        using var a = await ConnectAsync(server);
        using var b = await ConnectAsync(server);
        await a.Inbox.OpenAsync(FolderAccess.ReadWrite);
        await b.Inbox.OpenAsync(FolderAccess.ReadWrite);
        var changed = new TaskCompletionSource<MessageFlags>();
        b.Inbox.MessageFlagsChanged += (_, e) => changed.TrySetResult(e.Flags);
        await a.Inbox.AddFlagsAsync(0, MessageFlags.Answered, true);
        await b.NoOpAsync();
        Assert.Equal(MessageFlags.Answered, await changed.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Body_sections_and_header_fields_are_served()
    {
        await using var server = new ImapTestServer();
        server.Deliver("Sections", "abcdefghij\n");
        using var client = await ConnectAsync(server);
        var inbox = client.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadOnly);
        var headers = await inbox.GetHeadersAsync(0);
        Assert.Equal("Sections", headers[HeaderId.Subject]);
        var summary = (await inbox.FetchAsync(0, -1, new FetchRequest(MessageSummaryItems.UniqueId) { Headers = new HeaderSet([HeaderId.Subject]) })).Single();
        Assert.Equal("Sections", summary.Headers![HeaderId.Subject]);
        Assert.False(summary.Headers.Contains(HeaderId.From));
        using var part = await inbox.GetStreamAsync(0, "TEXT", 2, 5);
        Assert.Equal("cdefg", new StreamReader(part).ReadToEnd());
    }

    internal static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met");
            await Task.Delay(20);
        }
    }
}
