using System.Net.Sockets;
using System.Text;
using Posthorn.Store.Maildir;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>RFC 7162: SEARCH MODSEQ, ENABLE QRESYNC, SELECT … (QRESYNC …), UID FETCH … (CHANGEDSINCE n VANISHED)
/// and VANISHED in place of EXPUNGE, on the wire.</summary>
public sealed class ImapQResyncTests
{
    private static string Code(string reply, string name)
    {
        int at = reply.IndexOf("[" + name + " ", StringComparison.Ordinal);
        Assert.True(at >= 0, reply);
        int start = at + name.Length + 2;
        return reply[start..reply.IndexOf(']', start)];
    }

    private static string Tagged(string reply) => reply.TrimEnd('\n').Split('\n')[^1];

    [Fact]
    public async Task Search_modseq_finds_messages_changed_since_and_reports_their_highest_modseq()
    {
        await using var server = new ImapTestServer();
        for (int i = 0; i < 3; i++) server.Deliver("m" + i);
        using var c = await RawImapClient.LoginAsync(server);
        ulong start = ulong.Parse(Code(await c.SendAsync("SELECT INBOX"), "HIGHESTMODSEQ"));
        await c.SendAsync("STORE 2 +FLAGS.SILENT (\\Flagged)");
        string search = await c.SendAsync($"SEARCH MODSEQ {start + 1}");
        ulong after = ulong.Parse(Code(await c.SendAsync("EXAMINE INBOX"), "HIGHESTMODSEQ"));
        Assert.Contains($"* SEARCH 2 (MODSEQ {after})\n", search);
        // The entry-name form (a flag's own modseq) is accepted; nothing changed since the last change.
        Assert.Contains("* SEARCH\n", await c.SendAsync($"SEARCH MODSEQ \"/flags/\\\\flagged\" all {after + 1}"));
        Assert.StartsWith("t", Tagged(await c.SendAsync("ENABLE IMAP4rev2")));
        string esearch = await c.SendAsync("UID SEARCH RETURN (ALL COUNT) MODSEQ 1");
        Assert.Contains($"COUNT 3 MODSEQ {after}\n", esearch);
        Assert.Contains("BAD", Tagged(await c.SendAsync("SEARCH MODSEQ x")));
    }

    [Fact]
    public async Task Select_with_qresync_reports_vanished_uids_and_changed_flags_since_the_clients_modseq()
    {
        await using var server = new ImapTestServer();
        for (int i = 0; i < 4; i++) server.Deliver("m" + i);
        string validity;
        ulong modseq;
        using (var first = await RawImapClient.LoginAsync(server))
        {
            Assert.Contains("* ENABLED QRESYNC", await first.SendAsync("ENABLE QRESYNC"));
            string select = await first.SendAsync("SELECT INBOX");
            validity = Code(select, "UIDVALIDITY");
            modseq = ulong.Parse(Code(select, "HIGHESTMODSEQ"));
        }
        using (var other = await RawImapClient.LoginAsync(server))
        {
            await other.SendAsync("SELECT INBOX");
            await other.SendAsync("UID STORE 2 +FLAGS (\\Seen)");
            await other.SendAsync("UID STORE 1,3 +FLAGS (\\Deleted)");
            await other.SendAsync("UID EXPUNGE 1");   // 3 stays, \Deleted but not expunged
        }
        using var c = await RawImapClient.LoginAsync(server);
        // RFC 7162 §3.2.5: BAD before ENABLE QRESYNC.
        Assert.Contains(" BAD ", Tagged(await c.SendAsync($"SELECT INBOX (QRESYNC ({validity} {modseq}))")));
        await c.SendAsync("ENABLE QRESYNC");
        string resync = await c.SendAsync($"SELECT INBOX (QRESYNC ({validity} {modseq} 1:4))");
        Assert.Contains(" OK ", Tagged(resync));
        Assert.Contains("* VANISHED (EARLIER) 1\n", resync);
        Assert.Contains("* 1 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (", resync);
        Assert.Contains("* 2 FETCH (UID 3 FLAGS (\\Deleted) MODSEQ (", resync);
        Assert.DoesNotContain("UID 4 FLAGS", resync);
        // The VANISHED (EARLIER) list comes before the FETCHes (RFC 7162 §3.2.5.1).
        Assert.True(resync.IndexOf("VANISHED", StringComparison.Ordinal) < resync.IndexOf("FETCH", StringComparison.Ordinal));
        // Known UIDs limit the report: the client never knew UID 1.
        string limited = await c.SendAsync($"EXAMINE INBOX (QRESYNC ({validity} {modseq} 2:4 (1:3 2:4)))");
        Assert.Contains("* OK [CLOSED]", limited);
        Assert.DoesNotContain("VANISHED", limited);
        // A stale UIDVALIDITY gets a plain SELECT: the client must resync fully.
        string stale = await c.SendAsync($"SELECT INBOX (QRESYNC (1 {modseq}))");
        Assert.DoesNotContain("VANISHED", stale);
        Assert.DoesNotContain("FETCH", stale);
    }

    [Fact]
    public async Task Once_qresync_is_enabled_expunges_are_announced_as_vanished_and_uid_fetch_can_ask_for_earlier_ones()
    {
        await using var server = new ImapTestServer();
        for (int i = 0; i < 5; i++) server.Deliver("m" + i);
        using var c = await RawImapClient.LoginAsync(server);
        await c.SendAsync("ENABLE QRESYNC");
        ulong start = ulong.Parse(Code(await c.SendAsync("SELECT INBOX"), "HIGHESTMODSEQ"));
        await c.SendAsync("STORE 1:2 +FLAGS.SILENT (\\Deleted)");
        string own = await c.SendAsync("EXPUNGE");
        Assert.Contains("* VANISHED 1:2\n", own);
        Assert.DoesNotContain(" EXPUNGE\n", own);

        using (var other = await RawImapClient.LoginAsync(server))
        {
            await other.SendAsync("SELECT INBOX");
            await other.SendAsync("UID STORE 4 +FLAGS.SILENT (\\Deleted)");
            await other.SendAsync("UID EXPUNGE 4");
        }
        // Another session's expunge shows on the next NOOP as VANISHED, with the new count.
        string noop = await c.SendAsync("NOOP");
        Assert.Contains("* VANISHED 4\n", noop);
        // An untagged FETCH carries the UID once QRESYNC is on (here from a sequence-number FETCH).
        Assert.Contains("* 1 FETCH (UID 3 FLAGS", await c.SendAsync("FETCH 1 (FLAGS)"));

        string vanished = await c.SendAsync($"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {start} VANISHED)");
        Assert.Contains("* VANISHED (EARLIER) 1:2,4\n", vanished);
        Assert.DoesNotContain("FETCH (UID 5", vanished);   // unchanged since start
        Assert.Contains("* VANISHED (EARLIER) 4\n", await c.SendAsync($"UID FETCH 3:5 (FLAGS) (VANISHED CHANGEDSINCE {start})"));
        // RFC 7162 §3.2.6: VANISHED needs UID FETCH and CHANGEDSINCE.
        Assert.Contains(" BAD ", Tagged(await c.SendAsync($"FETCH 1:* (FLAGS) (CHANGEDSINCE {start} VANISHED)")));
        Assert.Contains(" BAD ", Tagged(await c.SendAsync("UID FETCH 1:* (FLAGS) (VANISHED)")));
    }

    [Fact]
    public async Task Vanished_needs_enable_qresync_and_a_plain_session_still_gets_expunge()
    {
        await using var server = new ImapTestServer();
        for (int i = 0; i < 2; i++) server.Deliver("m" + i);
        using var c = await RawImapClient.LoginAsync(server);
        await c.SendAsync("SELECT INBOX");
        Assert.DoesNotContain("QRESYNC", await c.SendAsync("ENABLE NOTHING"));
        Assert.Contains(" BAD ", Tagged(await c.SendAsync("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")));
        await c.SendAsync("STORE 1 +FLAGS.SILENT (\\Deleted)");
        string expunge = await c.SendAsync("EXPUNGE");
        Assert.Contains("* 1 EXPUNGE\n", expunge);
        Assert.DoesNotContain("VANISHED", expunge);
        Assert.Contains("QRESYNC", await c.SendAsync("CAPABILITY"));
    }

    [Fact]
    public async Task A_deleted_index_is_rebuilt_with_a_new_uidvalidity_and_no_stale_vanished_uids()
    {
        await using var server = new ImapTestServer();
        for (int i = 0; i < 3; i++) server.Deliver("m" + i);
        string validity;
        using (var c = await RawImapClient.LoginAsync(server))
        {
            await c.SendAsync("ENABLE QRESYNC");
            validity = Code(await c.SendAsync("SELECT INBOX"), "UIDVALIDITY");
            await c.SendAsync("UID STORE 1 +FLAGS.SILENT (\\Deleted)");
            Assert.Contains("* VANISHED 1\n", await c.SendAsync("UID EXPUNGE 1"));
            await c.SendAsync("LOGOUT");
        }
        // Let a second pass of the clock go by so that the rebuilt index gets a larger UIDVALIDITY.
        await Task.Delay(1100);
        foreach (var f in Directory.GetFiles(server.Maildir, MaildirIndex.FileName + "*")) File.Delete(f);
        using var again = await RawImapClient.LoginAsync(server);
        await again.SendAsync("ENABLE QRESYNC");
        string resync = await again.SendAsync($"SELECT INBOX (QRESYNC ({validity} 1))");
        Assert.NotEqual(validity, Code(resync, "UIDVALIDITY"));
        Assert.DoesNotContain("VANISHED", resync);
        Assert.Contains("* 2 EXISTS", resync);
        string fresh = Code(resync, "UIDVALIDITY");
        Assert.DoesNotContain("VANISHED", await again.SendAsync($"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)"));
        Assert.Contains(" OK ", Tagged(await again.SendAsync($"SELECT INBOX (QRESYNC ({fresh} 1))")));
    }
}
