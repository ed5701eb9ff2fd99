using Posthorn.Store.Maildir;
using Posthorn.Tests.Imap;
using Xunit;

namespace Posthorn.Tests.Lmtp;

/// <summary>lmtpd (RFC 2033) with a raw client and MailKit's LmtpClient, delivering through the daemon's agent
/// into Maildirs that the IMAP store then reads.</summary>
public sealed class LmtpServerSessionTests
{
    private static async Task<RawLine> ConnectAsync(LmtpTestServer server)
    {
        var raw = await RawLine.ConnectAsync(server.Port);
        Assert.Equal("220 mail.example.test LMTP Posthorn", await raw.ReadLineAsync());
        return raw;
    }

    private static async Task<List<string>> ReplyAsync(RawLine raw)
    {
        var lines = new List<string>();
        string line;
        do
        {
            line = await raw.ReadLineAsync();
            lines.Add(line);
        } while (line.Length > 3 && line[3] == '-');
        return lines;
    }

    [Fact]
    public async Task Each_accepted_recipient_gets_its_own_reply_after_DATA_and_unknown_users_get_550_5_1_1()
    {
        await using var server = new LmtpTestServer();
        await using var raw = await ConnectAsync(server);
        await raw.WriteAsync("LHLO postfix.example\r\n");
        var lhlo = await ReplyAsync(raw);
        Assert.Equal("250-mail.example.test", lhlo[0]);
        Assert.Contains("250-PIPELINING", lhlo);
        Assert.Contains("250-ENHANCEDSTATUSCODES", lhlo);
        await raw.WriteAsync("MAIL FROM:<sender@example.org> SIZE=100\r\n");
        Assert.Equal("250 2.1.0 Ok", await raw.ReadLineAsync());
        await raw.WriteAsync("RCPT TO:<alice@example.test>\r\n");
        Assert.Equal("250 2.1.5 Ok", await raw.ReadLineAsync());
        await raw.WriteAsync("RCPT TO:<nosuchuser@example.test>\r\n");
        Assert.Equal("550 5.1.1 <nosuchuser@example.test> User doesn't exist: nosuchuser@example.test", await raw.ReadLineAsync());
        await raw.WriteAsync("RCPT TO:<bob@other.example>\r\n");
        Assert.Equal("250 2.1.5 Ok", await raw.ReadLineAsync());
        await raw.WriteAsync("RCPT TO:<nohome@example.test>\r\n");
        Assert.Equal("250 2.1.5 Ok", await raw.ReadLineAsync());
        await raw.WriteAsync("DATA\r\n");
        Assert.StartsWith("354 ", await raw.ReadLineAsync());
        await raw.WriteAsync("Subject: lmtp test\r\nMessage-ID: <m1@example.org>\r\n\r\n..a line that began with a dot\r\nlast\r\n.\r\n");
        // RFC 2033 §4.2: one reply per accepted RCPT, in RCPT order.
        Assert.Matches(@"^250 2\.0\.0 <alice@example\.test> [0-9A-F]+ Saved$", await raw.ReadLineAsync());
        Assert.Matches(@"^250 2\.0\.0 <bob@other\.example> [0-9A-F]+ Saved$", await raw.ReadLineAsync());
        Assert.Equal("451 4.3.5 <nohome@example.test> Mail system configuration error", await raw.ReadLineAsync());
        await raw.WriteAsync("QUIT\r\n");
        Assert.Equal("221 2.0.0 Bye", await raw.ReadLineAsync());

        string text = File.ReadAllText(Assert.Single(server.NewFiles("alice")));
        Assert.StartsWith("Return-Path: <sender@example.org>\n", text.ReplaceLineEndings("\n"));
        Assert.Contains("Delivered-To: alice@example.test", text);
        Assert.Contains("Received: from postfix.example (127.0.0.1)", text);
        Assert.Contains("with LMTP id S1T1", text);
        Assert.Contains("\n.a line that began with a dot\nlast\n", text.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("..a line", text);
        Assert.Single(server.NewFiles("bob"));
        Assert.Contains(server.LogSink.Lines, l => l.Contains("dovecot[4242]: lmtp(alice)<S1T1>: msgid=<m1@example.org>: saved mail to INBOX"));
        Assert.Contains(server.LogSink.Lines, l => l.Contains("dovecot[4242]: lmtp: Connect from 127.0.0.1"));
        // The spool file is gone once the replies are sent.
        Assert.Empty(Directory.GetFiles(server.SpoolDirectory));
    }

    [Fact]
    public async Task Commands_out_of_order_and_SMTP_greetings_are_refused()
    {
        await using var server = new LmtpTestServer();
        await using var raw = await ConnectAsync(server);
        await raw.WriteAsync("EHLO client\r\n");
        Assert.StartsWith("500 5.5.1", await raw.ReadLineAsync());
        await raw.WriteAsync("MAIL FROM:<a@b>\r\n");
        Assert.StartsWith("503 5.5.1", await raw.ReadLineAsync());
        await raw.WriteAsync("LHLO client\r\n");
        await ReplyAsync(raw);
        await raw.WriteAsync("RCPT TO:<alice@example.test>\r\n");
        Assert.Equal("503 5.5.1 Error: need MAIL command", await raw.ReadLineAsync());
        await raw.WriteAsync("MAIL FROM:<>\r\n");
        Assert.Equal("250 2.1.0 Ok", await raw.ReadLineAsync());
        await raw.WriteAsync("RCPT TO:<ghost@example.test>\r\n");
        Assert.StartsWith("550 5.1.1", await raw.ReadLineAsync());
        // RFC 2033 §4.2: DATA with no accepted recipient fails with 503.
        await raw.WriteAsync("DATA\r\n");
        Assert.Equal("503 5.5.1 Error: no valid recipients", await raw.ReadLineAsync());
        await raw.WriteAsync("RCPT TO:alice\r\n");
        Assert.StartsWith("501 5.5.4", await raw.ReadLineAsync());
    }

    [Fact]
    public async Task Pipelined_transaction_gets_all_replies_in_order()
    {
        await using var server = new LmtpTestServer();
        await using var raw = await ConnectAsync(server);
        await raw.WriteAsync("LHLO client\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
        await ReplyAsync(raw);
        Assert.Equal("250 2.1.0 Ok", await raw.ReadLineAsync());
        Assert.Equal("250 2.1.5 Ok", await raw.ReadLineAsync());
        Assert.Equal("250 2.1.5 Ok", await raw.ReadLineAsync());
        Assert.StartsWith("354 ", await raw.ReadLineAsync());
        await raw.WriteAsync("Subject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n");
        Assert.Contains("<alice@example.test>", await raw.ReadLineAsync());
        Assert.Contains("<bob@example.test>", await raw.ReadLineAsync());
        Assert.Equal("221 2.0.0 Bye", await raw.ReadLineAsync());
        Assert.Single(server.NewFiles("alice"));
    }

    [Fact]
    public async Task A_message_over_the_size_limit_is_refused_for_every_recipient_and_nothing_is_delivered()
    {
        await using var server = new LmtpTestServer(messageSizeLimit: 1000);
        await using var raw = await ConnectAsync(server);
        await raw.WriteAsync("LHLO client\r\n");
        Assert.Contains("250 SIZE 1000", await ReplyAsync(raw));
        await raw.WriteAsync("MAIL FROM:<s@example.org> SIZE=5000\r\n");
        Assert.StartsWith("552 5.3.4", await raw.ReadLineAsync());
        await raw.WriteAsync("MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
        for (int i = 0; i < 4; i++) await raw.ReadLineAsync();
        await raw.WriteAsync("Subject: big\r\n\r\n" + string.Concat(Enumerable.Repeat(new string('x', 70) + "\r\n", 100)) + ".\r\n");
        Assert.Equal("552 5.3.4 Error: message file too big", await raw.ReadLineAsync());
        Assert.Equal("552 5.3.4 Error: message file too big", await raw.ReadLineAsync());
        await raw.WriteAsync("NOOP\r\n");
        Assert.Equal("250 2.0.0 Ok", await raw.ReadLineAsync());
        Assert.Empty(server.NewFiles("alice"));
        Assert.Empty(server.NewFiles("bob"));
    }

    [Fact]
    public async Task A_delivered_message_is_seen_by_the_IMAP_store_and_the_local_part_finds_the_user()
    {
        await using var server = new LmtpTestServer();
        await using (var raw = await ConnectAsync(server))
        {
            await raw.WriteAsync("LHLO client\r\n");
            await ReplyAsync(raw);
            // The whole address is not a user; its local part is (Postfix hands over user@$mydestination).
            await raw.WriteAsync("MAIL FROM:<carol@example.org>\r\nRCPT TO:<alice@any.example>\r\nDATA\r\n");
            for (int i = 0; i < 3; i++) await raw.ReadLineAsync();
            await raw.WriteAsync("Subject: seen by IMAP\r\n\r\nHello over LMTP.\r\n.\r\n");
            Assert.StartsWith("250 2.0.0 <alice@any.example>", await raw.ReadLineAsync());
        }
        var store = new MaildirStore(TimeProvider.System, "test.example", 4242);
        var inbox = await store.OpenAccount("alice", server.Maildir("alice")).OpenAsync("INBOX", readOnly: true, default);
        Assert.NotNull(inbox);
        await using (inbox)
        {
            var info = Assert.Single(inbox.Messages);
            var bytes = await inbox.ReadAsync(info, default);
            Assert.Contains("Subject: seen by IMAP", System.Text.Encoding.UTF8.GetString(bytes!));
        }
    }
}
