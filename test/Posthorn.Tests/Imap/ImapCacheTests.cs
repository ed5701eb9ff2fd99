using System.Net.Sockets;
using System.Text;
using Posthorn.Imap;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>FETCH ENVELOPE/BODY/BODYSTRUCTURE and SEARCH header keys answered from the index's cache
/// (<see cref="ImapMessageCache"/>): the same answers as from the message, without reading it again.</summary>
public sealed class ImapCacheTests
{
    private static async Task<RawImapClient> SelectedAsync(ImapTestServer server)
    {
        var raw = await RawImapClient.LoginAsync(server);
        Assert.Contains(" OK", await raw.SendAsync("SELECT INBOX"));
        return raw;
    }

    private const string Multipart = "From: Carol <carol@example.test>\nTo: alice@example.test\nSubject: parts\n"
        + "Date: Tue, 14 Nov 2023 10:00:00 +0000\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
        + "--b\nContent-Type: text/plain; charset=utf-8\n\nhello needle\n--b\nContent-Type: application/octet-stream\n"
        + "Content-Disposition: attachment; filename=\"a.bin\"\nContent-Transfer-Encoding: base64\n\nAAAA\n--b--\n";

    private static void DropRaw(ImapTestServer server, string name, string text)
    {
        File.WriteAllText(Path.Combine(server.Maildir, "tmp", name), text);
        File.Move(Path.Combine(server.Maildir, "tmp", name), Path.Combine(server.Maildir, "new", name));
    }

    [Fact]
    public async Task Envelope_and_bodystructure_come_from_the_index_once_cached()
    {
        await using var server = new ImapTestServer();
        server.Deliver("first", from: "bob@example.test");
        DropRaw(server, "1700000001.M2P1.test", Multipart);
        const string fetch = "UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE)";
        string first;
        using (var c = await SelectedAsync(server))
            first = await c.SendAsync(fetch);
        Assert.Contains("ENVELOPE (\"Tue, 14 Nov 2023 10:00:00 +0000\" \"parts\" ((\"Carol\" NIL \"carol\" \"example.test\"))", first);
        Assert.Contains("BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL)"
            + "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 4 NIL (\"attachment\" (\"filename\" \"a.bin\")) NIL NIL) \"mixed\"", first);
        Assert.Contains("BODY ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 12 1)(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 4) \"mixed\")", first);
        // Maildir files never change under their name; rewriting one in place shows that the second answer is the
        // cached one, not a new parse.
        string file = Directory.GetFiles(Path.Combine(server.Maildir, "cur"), "1700000001.M2P1.test*").Single();
        File.WriteAllText(file, Multipart.Replace("Subject: parts", "Subject: other", StringComparison.Ordinal));
        using var again = await SelectedAsync(server);
        Assert.Equal(first, await again.SendAsync(fetch));
        // BODY[] reads the file itself.
        Assert.Contains("Subject: other", await again.SendAsync("UID FETCH 2 BODY.PEEK[HEADER]"));
    }

    [Fact]
    public async Task Header_searches_match_the_same_from_the_cached_header_as_from_the_message()
    {
        await using var server = new ImapTestServer();
        server.Deliver("one", from: "bob@example.test");
        server.Deliver("two", body: "the needle is here\n", from: "dave@example.test");
        DropRaw(server, "1700000001.M9P1.test", Multipart);
        using var c = await SelectedAsync(server);
        string[] searches =
        [
            "SEARCH FROM dave", "SEARCH FROM carol", "SEARCH SUBJECT o", "SEARCH HEADER Message-ID M000002",
            "SEARCH SENTON 14-Nov-2023", "SEARCH SENTBEFORE 14-Nov-2023", "SEARCH TO alice FROM bob",
            "SEARCH BODY needle", "SEARCH TEXT carol", "SEARCH OR FROM bob BODY needle",
        ];
        string[] expected = ["* SEARCH 2", "* SEARCH 3", "* SEARCH 1 2", "* SEARCH 2", "* SEARCH 3", "* SEARCH 1 2", "* SEARCH 1 2",
            "* SEARCH 2 3", "* SEARCH 3", "* SEARCH 1 2 3"];
        // First without a cache (the messages are parsed and the header blocks cached), then from the cache.
        for (int round = 0; round < 2; round++)
            for (int i = 0; i < searches.Length; i++)
                Assert.StartsWith(expected[i] + "\n", await c.SendAsync(searches[i]));
        // The cached header is what a header search looks at: it does not come from re-reading the file.
        foreach (var f in Directory.GetFiles(Path.Combine(server.Maildir, "cur"))) File.WriteAllText(f, "Subject: x\n\nbody\n");
        Assert.StartsWith("* SEARCH 2\n", await c.SendAsync("SEARCH FROM dave"));
    }
}
