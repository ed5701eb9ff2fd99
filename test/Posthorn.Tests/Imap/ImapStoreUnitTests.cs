using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>A command's store work as one unit (one hop to the user's file thread under imapd), sizes and dates that a
/// first SELECT estimates from the file names and FETCH/SEARCH make exact, and SEARCH over cached decoded fields.</summary>
public sealed class ImapStoreUnitTests
{
    private static void DropRaw(ImapTestServer server, string name, string text)
    {
        foreach (var d in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(server.Maildir, d));
        File.WriteAllText(Path.Combine(server.Maildir, "tmp", name), text);
        File.Move(Path.Combine(server.Maildir, "tmp", name), Path.Combine(server.Maildir, "new", name));
    }

    [Fact]
    public async Task Every_command_does_its_store_work_in_one_unit()
    {
        UnitCountingStore? counting = null;
        await using var server = new ImapTestServer(wrapStore: s => counting = new UnitCountingStore(s));
        for (int i = 0; i < 3; i++) server.Deliver("m" + i, from: $"sender{i}@example.test");
        using var c = await RawImapClient.LoginAsync(server);
        string[] commands =
        [
            "SELECT INBOX", "FETCH 2 (BODY.PEEK[])", "UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)", "FETCH 1 (BODY[])",
            "SEARCH FROM sender1", "SEARCH LARGER 10 BODY Hello", "STORE 1 +FLAGS (\\Flagged)", "STATUS INBOX (MESSAGES UNSEEN)",
            "LIST \"\" *", "NOOP", "UID EXPUNGE 3", "EXAMINE INBOX",
        ];
        foreach (var command in commands)
        {
            int units = counting!.Units;
            Assert.Contains(" OK ", await c.SendAsync(command));
            Assert.Equal(units + 1, counting.Units);
            Assert.Equal(0, counting.Outside);
        }
    }

    [Fact]
    public async Task A_store_call_inside_a_unit_of_the_same_user_runs_in_place_and_another_user_hops()
    {
        int outer = 0, same = 0, other = 0;
        bool inside = false;
        await UserFileThreads.RunAsync(4242, 4242, async () =>
        {
            outer = Environment.CurrentManagedThreadId;
            await Task.Yield();
            inside = UserFileThreads.IsRunningAs(4242, 4242);
            same = await UserFileThreads.RunAsync(4242, 4242, () => ValueTask.FromResult(Environment.CurrentManagedThreadId));
            other = await UserFileThreads.RunAsync(4243, 4243, () => ValueTask.FromResult(Environment.CurrentManagedThreadId));
            return true;
        });
        Assert.True(inside);
        Assert.Equal(outer, same);
        Assert.NotEqual(outer, other);
        Assert.False(UserFileThreads.IsRunningAs(4242, 4242));
    }

    [Fact]
    public async Task Rfc822_size_and_internaldate_are_exact_although_the_first_select_took_them_from_lying_names()
    {
        await using var server = new ImapTestServer();
        const string text = "Subject: a\n\nsome body text\n";   // 27 octets, 30 with CRLF
        DropRaw(server, "1000000000.M1P1.test,S=5", text);
        DropRaw(server, "1000000001.M2P1.test,S=5", text);
        var mtime = new DateTime(2021, 3, 4, 5, 6, 7, DateTimeKind.Utc);
        foreach (var f in Directory.GetFiles(Path.Combine(server.Maildir, "new"))) File.SetLastWriteTimeUtc(f, mtime);
        using var c = await RawImapClient.LoginAsync(server);
        Assert.Contains(" OK ", await c.SendAsync("SELECT INBOX"));
        // The names say 5 octets and 2001: SEARCH compares the exact values, not those.
        Assert.StartsWith("* SEARCH 1 2\n", await c.SendAsync("SEARCH LARGER 29 SMALLER 31 ON 4-Mar-2021"));
        string fetch = await c.SendAsync("FETCH 1:2 (RFC822.SIZE INTERNALDATE)");
        Assert.Contains("* 1 FETCH (RFC822.SIZE 30 INTERNALDATE \"04-Mar-2021 05:06:07 +0000\")", fetch);
        Assert.Contains("* 2 FETCH (RFC822.SIZE 30 INTERNALDATE \"04-Mar-2021 05:06:07 +0000\")", fetch);
    }

    [Fact]
    public async Task Search_header_finds_the_top_level_content_fields()
    {
        await using var server = new ImapTestServer();
        DropRaw(server, "1700000001.M1P1.test", "From: a@example.test\nSubject: plain\nMIME-Version: 1.0\n"
            + "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\nhello\n");
        DropRaw(server, "1700000002.M2P1.test", "From: b@example.test\nSubject: parts\nMIME-Version: 1.0\n"
            + "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/html\n\n<p>x</p>\n--b--\n");
        using var c = await RawImapClient.LoginAsync(server);
        Assert.Contains(" OK ", await c.SendAsync("SELECT INBOX"));
        // First parsed from the files (TEXT), then from the cached header block (HEADER), twice over.
        Assert.StartsWith("* SEARCH 2\n", await c.SendAsync("SEARCH TEXT multipart/mixed"));
        for (int round = 0; round < 2; round++)
        {
            Assert.StartsWith("* SEARCH 2\n", await c.SendAsync("SEARCH HEADER Content-Type multipart"));
            Assert.StartsWith("* SEARCH 1\n", await c.SendAsync("SEARCH HEADER CONTENT-TYPE us-ascii"));
            Assert.StartsWith("* SEARCH 1 2\n", await c.SendAsync("SEARCH HEADER Content-Type \"\""));
            Assert.StartsWith("* SEARCH 1\n", await c.SendAsync("SEARCH HEADER Content-Transfer-Encoding 7BIT"));
            // text/html is a part's field, not the message's.
            Assert.StartsWith("* SEARCH\n", await c.SendAsync("SEARCH HEADER Content-Type html"));
        }
    }

    [Fact]
    public async Task Search_from_to_cc_bcc_subject_match_decoded_text_from_the_cached_fields()
    {
        await using var server = new ImapTestServer();
        DropRaw(server, "1700000001.M1P1.test", "From: =?utf-8?q?Zo=C3=AB_Quux?= <zoe@example.test>\nTo: Team <team@example.test>\n"
            + "Cc: carol@example.test\nBcc: =?iso-8859-1?q?J=F6rg?= <joerg@example.test>\nSubject: =?utf-8?q?hello_wide_world?=\n\nbody\n");
        DropRaw(server, "1700000002.M2P1.test", "From: bob@example.test\nTo: alice@example.test\nSubject: hello_wide\n\nbody\n");
        using var c = await RawImapClient.LoginAsync(server);
        Assert.Contains(" OK ", await c.SendAsync("SELECT INBOX"));
        string[] searches =
        [
            "SEARCH SUBJECT \"hello wide\"", "SEARCH SUBJECT HELLO_WIDE", "SEARCH FROM \"zo\"", "SEARCH FROM quux", "SEARCH FROM EXAMPLE.TEST",
            "SEARCH TO team", "SEARCH CC carol", "SEARCH BCC joerg@", "SEARCH BCC \"rg <\"", "SEARCH NOT FROM bob", "SEARCH OR CC carol TO alice",
        ];
        string[] expected = ["* SEARCH 1", "* SEARCH 2", "* SEARCH 1", "* SEARCH 1", "* SEARCH 1 2", "* SEARCH 1", "* SEARCH 1", "* SEARCH 1",
            "* SEARCH 1", "* SEARCH 1", "* SEARCH 1 2"];
        // First computed from the files, then from the cache; then the files are rewritten in place (a Maildir file never
        // changes under its name) and the answers stay: they come from the cached fields, not from parsing.
        for (int round = 0; round < 3; round++)
        {
            if (round == 2)
                foreach (var f in Directory.GetFiles(Path.Combine(server.Maildir, "cur"))) File.WriteAllText(f, "Subject: x\n\nbody\n");
            for (int i = 0; i < searches.Length; i++)
                Assert.StartsWith(expected[i] + "\n", await c.SendAsync(searches[i]));
        }
    }

    [Fact]
    public async Task Esearch_with_a_modseq_key_carries_the_highest_modseq_of_the_messages_found()
    {
        await using var server = new ImapTestServer();
        for (int i = 0; i < 3; i++) server.Deliver("m" + i);
        using var c = await RawImapClient.LoginAsync(server);
        Assert.Contains(" OK ", await c.SendAsync("SELECT INBOX"));
        Assert.Contains(" OK ", await c.SendAsync("STORE 2 +FLAGS.SILENT (\\Flagged)"));
        string fetch = await c.SendAsync("FETCH 2 (MODSEQ)");
        string modseq = fetch[(fetch.IndexOf("MODSEQ (", StringComparison.Ordinal) + 8)..fetch.IndexOf(')', StringComparison.Ordinal)];
        // RFC 7162 §3.1.5 with RFC 4731: "* ESEARCH (TAG ...) ALL 2 MODSEQ n"; without results no MODSEQ.
        Assert.StartsWith($"* ESEARCH (TAG \"t5\") ALL 2 MODSEQ {modseq}\n", await c.SendAsync($"SEARCH RETURN (ALL) MODSEQ {modseq}"));
        Assert.StartsWith($"* ESEARCH (TAG \"t6\") UID COUNT 1 MODSEQ {modseq}\n", await c.SendAsync($"UID SEARCH RETURN (COUNT) MODSEQ {modseq}"));
        Assert.StartsWith("* ESEARCH (TAG \"t7\") COUNT 0\n", await c.SendAsync("SEARCH RETURN (COUNT) MODSEQ 999999"));
    }
}
