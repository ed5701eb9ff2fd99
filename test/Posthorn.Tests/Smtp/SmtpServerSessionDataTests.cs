using Xunit;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>DATA: sequencing, content streaming, the Received: header, size limit, dropped clients, pipelining.</summary>
public class SmtpServerSessionDataTests
{
    private const string ReceivedOne =
        "Received: from client.example (localhost [127.0.0.1])\n" +
        "\tby mail.example.test (Posthorn) with ESMTP id 4D2C1B0A00\n" +
        "\tfor <bob@example.com>; Wed, 25 Nov 2026 13:17:08 +0000 (UTC)\n";

    private static Task<SmtpHarness> ReadyForDataAsync(SmtpServerOptions? options = null, params string[] recipients) =>
        ReadyForDataAsync(options, null, recipients);

    internal static async Task<SmtpHarness> ReadyForDataAsync(SmtpServerOptions? options, SessionExtras? extras, params string[] recipients)
    {
        var h = await SmtpHarness.StartAsync(options, extras);
        await h.CommandAsync("EHLO client.example");
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<alice@example.com>"));
        foreach (var r in recipients.Length == 0 ? ["bob@example.com"] : recipients)
            await h.CommandAsync($"RCPT TO:<{r}>");
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await h.CommandAsync("DATA"));
        return h;
    }

    [Fact]
    public async Task Data_without_mail_needs_rcpt_and_without_valid_recipients_is_554()
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO c");
        Assert.Equal("503 5.5.1 Error: need RCPT command", await h.CommandAsync("DATA"));
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        Assert.Equal("554 5.5.1 Error: no valid recipients", await h.CommandAsync("DATA"));
        await h.CommandAsync("RCPT TO:<u@relay.test>");
        Assert.Equal("554 5.5.1 Error: no valid recipients", await h.CommandAsync("DATA"));
        await h.CommandAsync("RCPT TO:<b@example.com>");
        Assert.Equal("501 5.5.4 Syntax: DATA", await h.CommandAsync("DATA now"));
    }

    [Fact]
    public async Task Content_is_unstuffed_reduced_to_lf_and_queued_after_the_received_header()
    {
        await using var h = await ReadyForDataAsync();
        await h.SendAsync("Subject: test\r\n\r\n..leading dot\r\n..\r\nbare CR\rinside\r\nend\r\n.\r\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        var writer = Assert.Single(h.Sink.Writers);
        Assert.True(writer.Committed);
        Assert.True(writer.Disposed);
        Assert.Equal(ReceivedOne + "Subject: test\n\n.leading dot\n.\nbare CR\rinside\nend\n", writer.Content);
        // The transaction is over: a new one can start.
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<alice@example.com>"));
        Assert.Equal("221 2.0.0 Bye", await h.CommandAsync("QUIT"));
        await h.FinishAsync();
        Assert.Equal("postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] ehlo=1 mail=2 rcpt=1 data=1 quit=1 commands=6", h.Log[^1]);
    }

    [Fact]
    public async Task Received_header_has_no_for_clause_with_several_recipients()
    {
        await using var h = await ReadyForDataAsync(null, "b1@example.com", "b2@example.com");
        await h.SendAsync("x\r\n.\r\n");
        await h.ReadReplyAsync();
        Assert.Equal("Received: from client.example (localhost [127.0.0.1])\n" +
            "\tby mail.example.test (Posthorn) with ESMTP id 4D2C1B0A00;\n" +
            "\tWed, 25 Nov 2026 13:17:08 +0000 (UTC)\nx\n", h.Sink.Writers[0].Content);
    }

    [Fact]
    public async Task Content_that_starts_with_white_space_gets_an_empty_line_first()
    {
        await using var h = await ReadyForDataAsync();
        await h.SendAsync(" folded\r\n.\r\n");
        await h.ReadReplyAsync();
        Assert.Equal(ReceivedOne + "\n folded\n", h.Sink.Writers[0].Content);
    }

    [Fact]
    public async Task Content_arriving_byte_by_byte_is_the_same()
    {
        await using var h = await ReadyForDataAsync();
        foreach (byte b in "..x\r\n.y\r\nlast\r\n.\r\n"u8.ToArray()) await h.SendAsync([b]);
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        Assert.Equal(ReceivedOne + ".x\ny\nlast\n", h.Sink.Writers[0].Content);
    }

    [Fact]
    public async Task Bare_lf_dot_ends_the_data_for_clients_excluded_from_the_bare_newline_rule()
    {
        // Postfix smtpd_forbid_bare_newline_exclusions ($mynetworks): LF alone is a line end, as nc sends it.
        await using var h = await ReadyForDataAsync();
        await h.SendAsync("one\ntwo\n..three\n.\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        Assert.Equal(ReceivedOne + "one\ntwo\n.three\n", h.Sink.Writers[0].Content);
    }

    [Fact]
    public async Task Bare_lf_is_refused_with_521_under_reject_with_reject_code_521()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { AllowBareLf = false },
            new SessionExtras(BareNewlineMode.Reject, 521));
        Assert.Equal("250 mail.example.test", await h.CommandAsync("HELO c"));
        await h.SendAsync("NOOP\n");
        Assert.Equal("521 5.5.2 mail.example.test Error: bare <LF> received", await h.ReadReplyAsync());
        Assert.True(await h.ServerClosedAsync());
        await h.FinishAsync();
    }

    [Fact]
    public async Task Bare_lf_in_content_is_refused_and_the_message_dropped_under_reject_with_reject_code_521()
    {
        await using var h = await ReadyForDataAsync(SmtpHarness.DefaultOptions with { AllowBareLf = false },
            new SessionExtras(BareNewlineMode.Reject, 521));
        await h.SendAsync("Subject: x\r\nsmuggled\n.\r\n");
        Assert.Equal("521 5.5.2 mail.example.test Error: bare <LF> received", await h.ReadReplyAsync());
        Assert.True(await h.ServerClosedAsync());
        await h.FinishAsync();
        Assert.True(h.Sink.Writers[0].Disposed);
        Assert.False(h.Sink.Writers[0].Committed);
    }

    [Fact]
    public async Task Oversized_message_is_read_to_the_dot_discarded_and_refused_with_552()
    {
        await using var h = await ReadyForDataAsync(SmtpHarness.DefaultOptions with { MessageSizeLimit = 100 });
        await h.SendAsync(string.Concat(Enumerable.Repeat("0123456789012345678\r\n", 10)) + ".\r\n");
        Assert.Equal("552 5.3.4 Error: message file too big", await h.ReadReplyAsync());
        var writer = Assert.Single(h.Sink.Writers);
        Assert.True(writer.Disposed);
        Assert.False(writer.Committed);
        Assert.Contains("postfix/smtpd[4242]: warning: 4D2C1B0A00: queue file size limit exceeded", h.Log);
        // The session goes on.
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<alice@example.com>"));
    }

    [Fact]
    public async Task Message_exactly_at_the_limit_is_accepted()
    {
        // Postfix counts each line plus two: 4 lines of 8 + 2 = 40 bytes.
        await using var h = await ReadyForDataAsync(SmtpHarness.DefaultOptions with { MessageSizeLimit = 40 });
        await h.SendAsync(string.Concat(Enumerable.Repeat("abcdefgh\r\n", 4)) + ".\r\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
    }

    [Fact]
    public async Task Client_gone_mid_data_disposes_the_writer_and_logs_lost_connection()
    {
        await using var h = await ReadyForDataAsync();
        await h.SendAsync("Subject: x\r\n\r\npartial");
        await h.DisconnectAsync();
        await h.FinishAsync();
        var writer = Assert.Single(h.Sink.Writers);
        Assert.True(writer.Disposed);
        Assert.False(writer.Committed);
        Assert.Contains("postfix/smtpd[4242]: lost connection after DATA (21 bytes) from localhost[127.0.0.1]", h.Log);
        Assert.Equal("postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4", h.Log[^1]);
    }

    [Fact]
    public async Task A_failed_commit_is_passed_on_and_counts_as_a_failed_data()
    {
        var options = SmtpHarness.DefaultOptions;
        await using var h = await SmtpHarness.StartAsync(options);
        h.Sink.Commit = _ => SmtpReplies.QueueFileWriteError;
        await h.CommandAsync("EHLO c");
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        await h.CommandAsync("RCPT TO:<b@example.com>");
        await h.CommandAsync("DATA");
        await h.SendAsync("x\r\n.\r\n");
        Assert.Equal("451 4.3.0 Error: queue file write error", await h.ReadReplyAsync());
        Assert.True(h.Sink.Writers[0].Disposed);
    }

    [Fact]
    public async Task Long_lines_are_streamed_in_bounded_chunks()
    {
        await using var h = await ReadyForDataAsync();
        string longLine = new('x', 3 * SmtpServerSession.DataChunkSize + 17);
        await h.SendAsync("short\r\n" + longLine + "\r\n.\r\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        var writer = h.Sink.Writers[0];
        Assert.Equal(ReceivedOne + "short\n" + longLine + "\n", writer.Content);
        Assert.All(writer.WriteSizes, size => Assert.InRange(size, 1, SmtpServerSession.DataChunkSize));
        Assert.True(writer.WriteSizes.Count >= 4);
    }

    [Fact]
    public async Task Pipelined_commands_get_their_replies_in_order_in_one_flush()
    {
        await using var h = await SmtpHarness.StartAsync();
        int before = h.ServerStream.Writes;
        await h.SendAsync("EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<u@relay.test>\r\n" +
                          "RCPT TO:<bob@example.com>\r\nDATA\r\n");
        Assert.StartsWith("250-mail.example.test", await h.ReadReplyAsync());
        Assert.Equal("250 2.1.0 Ok", await h.ReadReplyAsync());
        Assert.Equal("554 5.7.1 <u@relay.test>: Relay access denied", await h.ReadReplyAsync());
        Assert.Equal("250 2.1.5 Ok", await h.ReadReplyAsync());
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await h.ReadReplyAsync());
        Assert.Equal(before + 1, h.ServerStream.Writes);
        await h.SendAsync("hello\r\n.\r\nQUIT\r\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        Assert.Equal("221 2.0.0 Bye", await h.ReadReplyAsync());
        await h.FinishAsync();
        Assert.Equal(ReceivedOne + "hello\n", h.Sink.Writers[0].Content);
    }

    [Fact]
    public void Received_date_pads_the_day_like_strftime_e()
    {
        var t = new DateTimeOffset(2026, 3, 4, 9, 5, 7, TimeSpan.FromHours(-5));
        Assert.Equal("Wed,  4 Mar 2026 09:05:07 -0500", ReceivedHeader.FormatDate(t, TimeZoneInfo.CreateCustomTimeZone("x", TimeSpan.FromHours(-5), "Some Long Zone Name", "Some Long Zone Name")));
        Assert.Equal("Wed,  4 Mar 2026 14:05:07 +0000 (UTC)", ReceivedHeader.FormatDate(t.ToUniversalTime(), TimeZoneInfo.Utc));
    }
}
