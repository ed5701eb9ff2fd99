using System.Text;
using Xunit;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>BDAT (RFC 3030 CHUNKING): counted chunks, binary-safe, size limit, sequencing and Postfix's replies.</summary>
public class SmtpServerSessionBdatTests
{
    private const string ReceivedOne =
        "Received: from client.example (localhost [127.0.0.1])\n" +
        "\tby mail.example.test (Posthorn) with ESMTP id 4D2C1B0A00\n" +
        "\tfor <bob@example.com>; Wed, 25 Nov 2026 13:17:08 +0000 (UTC)\n";

    /// <summary>A BDAT command with its chunk, counted.</summary>
    private static string Chunk(string data, bool last) =>
        $"BDAT {Encoding.UTF8.GetByteCount(data)}{(last ? " LAST" : "")}\r\n{data}";

    private static async Task<SmtpHarness> ReadyAsync(SmtpServerOptions? options = null)
    {
        var h = await SmtpHarness.StartAsync(options);
        await h.CommandAsync("EHLO client.example");
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<alice@example.com>"));
        Assert.Equal("250 2.1.5 Ok", await h.CommandAsync("RCPT TO:<bob@example.com>"));
        return h;
    }

    [Fact]
    public async Task Chunking_is_announced_after_8bitmime_and_can_be_discarded()
    {
        await using (var h = await SmtpHarness.StartAsync())
            Assert.EndsWith("\n250-8BITMIME\n250-DSN\n250-SMTPUTF8\n250 CHUNKING", await h.CommandAsync("EHLO c"));
        var options = SmtpHarness.DefaultOptions with { DiscardEhloKeywords = new HashSet<string> { "chunking" } };
        await using var d = await SmtpHarness.StartAsync(options);
        Assert.DoesNotContain("CHUNKING", await d.CommandAsync("EHLO c"));
        // The chunk is still read (and discarded), so its bytes never become commands.
        await d.SendAsync("BDAT 6 LAST\r\nQUIT\r\n");
        Assert.Equal("502 5.5.1 Error: command not implemented", await d.ReadReplyAsync());
        Assert.Equal("250 2.0.0 Ok", await d.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task Chunks_are_joined_with_crlf_reduced_and_no_dot_unstuffing()
    {
        await using var h = await ReadyAsync();
        // The CRLF of "two" is split across the chunks; ".." stays as sent; a bare CR stays data.
        await h.SendAsync(Chunk("Subject: one\r\n\r\ntwo\r", last: false));
        Assert.Equal("250 2.0.0 Ok: 20 bytes", await h.ReadReplyAsync());
        await h.SendAsync(Chunk("\n..dots\r\nx\ry\r\n.\r\n", last: true));
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        var writer = Assert.Single(h.Sink.Writers);
        Assert.True(writer.Committed);
        Assert.Equal(ReceivedOne + "Subject: one\n\ntwo\n..dots\nx\ry\n.\n", writer.Content);
        Assert.Equal("221 2.0.0 Bye", await h.CommandAsync("QUIT"));
        await h.FinishAsync();
        Assert.Equal("postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 bdat=2 quit=1 commands=6", h.Log[^1]);
    }

    [Fact]
    public async Task Binary_bytes_pass_untouched_and_a_last_line_without_crlf_is_ended()
    {
        await using var h = await ReadyAsync();
        byte[] body = [.. "A: b\r\n\r\n"u8, 0, 1, 0xFF, 0x80, (byte)'z'];
        await h.SendAsync([.. Encoding.ASCII.GetBytes($"BDAT {body.Length} LAST\r\n"), .. body]);
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        var writer = Assert.Single(h.Sink.Writers);
        byte[] expected = [.. Encoding.UTF8.GetBytes(ReceivedOne + "A: b\n\n"), 0, 1, 0xFF, 0x80, (byte)'z', (byte)'\n'];
        Assert.Equal(expected, writer.Bytes);
    }

    [Fact]
    public async Task Bdat_last_with_zero_size_ends_the_message()
    {
        await using var h = await ReadyAsync();
        await h.SendAsync("BDAT 9\r\nSubject: ");
        Assert.Equal("250 2.0.0 Ok: 9 bytes", await h.ReadReplyAsync());
        await h.SendAsync("BDAT 0 LAST\r\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        Assert.Equal(ReceivedOne + "Subject: \n", Assert.Single(h.Sink.Writers).Content);
    }

    [Fact]
    public async Task Without_mail_or_valid_recipients_the_chunk_is_discarded_with_postfix_replies()
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO c");
        // The chunk holds something that looks like a command: it must never run.
        await h.SendAsync("BDAT 6 LAST\r\nQUIT\r\n");
        Assert.Equal("503 5.5.1 Error: need RCPT command", await h.ReadReplyAsync());
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        await h.CommandAsync("RCPT TO:<u@relay.test>");
        await h.SendAsync("BDAT 6 LAST\r\nQUIT\r\n");
        Assert.Equal("554 5.5.1 Error: no valid recipients", await h.ReadReplyAsync());
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<a@example.com>"));
        Assert.Empty(h.Sink.Writers);
    }

    [Fact]
    public async Task Malformed_bdat_gets_postfix_syntax_replies()
    {
        await using var h = await ReadyAsync();
        await h.SendAsync("BDAT 4 FIRST\r\nNOOPBDAT 0\r\n");
        Assert.Equal("501 5.5.4 Syntax: BDAT count [LAST]", await h.ReadReplyAsync());
        Assert.Equal("551 5.7.1 Null BDAT request", await h.ReadReplyAsync());
        // Without a usable count the chunk's end is unknown: Postfix hangs up.
        Assert.Equal("521 5.5.4 Syntax: BDAT count [LAST]", await h.CommandAsync("BDAT -3"));
        Assert.True(await h.ServerClosedAsync());
        await h.FinishAsync();
        Assert.False(Assert.Single(h.Sink.Writers).Committed);
        Assert.True(h.Sink.Writers[0].Disposed);
    }

    [Fact]
    public async Task Mail_rcpt_and_data_after_bdat_are_refused_until_rset()
    {
        await using var h = await ReadyAsync();
        await h.SendAsync("BDAT 3\r\nA: ");
        Assert.Equal("250 2.0.0 Ok: 3 bytes", await h.ReadReplyAsync());
        Assert.Equal("503 5.5.1 Error: MAIL after BDAT", await h.CommandAsync("MAIL FROM:<a@example.com>"));
        Assert.Equal("503 5.5.1 Error: RCPT after BDAT", await h.CommandAsync("RCPT TO:<c@example.com>"));
        Assert.Equal("503 5.5.1 Error: DATA after BDAT", await h.CommandAsync("DATA"));
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("RSET"));
        var writer = Assert.Single(h.Sink.Writers);
        Assert.True(writer.Disposed);
        Assert.False(writer.Committed);
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<a@example.com>"));
    }

    [Fact]
    public async Task A_chunk_over_the_size_limit_is_refused_and_later_chunks_are_discarded()
    {
        var options = SmtpHarness.DefaultOptions with { MessageSizeLimit = 10 };
        await using var h = await ReadyAsync(options);
        await h.SendAsync("BDAT 8\r\n12345678");
        Assert.Equal("250 2.0.0 Ok: 8 bytes", await h.ReadReplyAsync());
        // Pipelined: the failing chunk, one more chunk, then a command that must still be seen as one.
        await h.SendAsync("BDAT 3\r\n9abBDAT 4 LAST\r\nQUITNOOP\r\n");
        Assert.Equal("552 5.3.4 Chunk exceeds message size limit", await h.ReadReplyAsync());
        Assert.Equal("552 5.3.4 Chunk exceeds message size limit", await h.ReadReplyAsync());
        Assert.Equal("250 2.0.0 Ok", await h.ReadReplyAsync());
        var writer = Assert.Single(h.Sink.Writers);
        Assert.True(writer.Disposed);
        Assert.False(writer.Committed);
        Assert.Contains(h.Log, l => l.EndsWith("4D2C1B0A00: queue file size limit exceeded", StringComparison.Ordinal));
        // The failed transaction ended with the LAST chunk.
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<a@example.com>"));
    }

    [Fact]
    public async Task A_client_that_drops_mid_chunk_leaves_nothing_queued()
    {
        await using var h = await ReadyAsync();
        await h.SendAsync("BDAT 100 LAST\r\nSubject: cut");
        await h.DisconnectAsync();
        await h.FinishAsync();
        var writer = Assert.Single(h.Sink.Writers);
        Assert.False(writer.Committed);
        Assert.True(writer.Disposed);
        Assert.Contains(h.Log, l => l.Contains("lost connection after BDAT (12 bytes) from localhost[127.0.0.1]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bdat_and_data_can_follow_each_other_in_separate_transactions()
    {
        await using var h = await ReadyAsync();
        await h.SendAsync("BDAT 5 LAST\r\nA: b\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        await h.CommandAsync("MAIL FROM:<alice@example.com>");
        await h.CommandAsync("RCPT TO:<bob@example.com>");
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await h.CommandAsync("DATA"));
        await h.SendAsync("A: c\r\n.\r\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A01", await h.ReadReplyAsync());
    }

    [Theory]
    [InlineData("10", true, 10L, false)]
    [InlineData("0 LAST", true, 0L, true)]
    [InlineData("7 last", true, 7L, true)]
    [InlineData("7 LAST x", false, 7L, false)]
    [InlineData("", false, 0L, false)]
    [InlineData("+5", false, 0L, false)]
    [InlineData("1234567890123456789", false, 0L, false)]
    public void Bdat_arguments_parse_as_rfc_3030_says(string args, bool ok, long size, bool last)
    {
        Assert.Equal(ok, SmtpServerSession.TryParseBdat(Encoding.ASCII.GetBytes(args), out long n, out bool l, out _));
        if (ok)
        {
            Assert.Equal(size, n);
            Assert.Equal(last, l);
        }
    }
}
