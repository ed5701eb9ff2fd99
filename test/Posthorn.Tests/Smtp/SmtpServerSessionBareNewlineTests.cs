using Posthorn.Smtp;
using Xunit;

namespace Posthorn.Tests.Smtp;

/// <summary>Postfix 3.9 smtpd_forbid_bare_newline (normalize, reject, no) and smtpd_forbid_bare_newline_reject_code,
/// for a client outside smtpd_forbid_bare_newline_exclusions (AllowBareLf off).</summary>
public sealed class SmtpServerSessionBareNewlineTests
{
    private static readonly SmtpServerOptions Outside = SmtpHarness.DefaultOptions with { AllowBareLf = false };

    [Theory]
    [InlineData("normalize", BareNewlineMode.Normalize)]
    [InlineData("yes", BareNewlineMode.Normalize)]
    [InlineData("REJECT", BareNewlineMode.Reject)]
    [InlineData(" no ", BareNewlineMode.No)]
    public void Parameter_values_parse_as_postconf_5_lists_them(string value, BareNewlineMode expected)
    {
        Assert.True(BareNewlineModes.TryParse(value, out var mode));
        Assert.Equal(expected, mode);
    }

    [Fact]
    public void An_unknown_value_is_refused_and_gives_the_default()
    {
        Assert.False(BareNewlineModes.TryParse("maybe", out var mode));
        Assert.Equal(BareNewlineMode.Normalize, mode);
    }

    [Fact]
    public async Task Normalize_takes_a_command_ending_in_bare_lf_as_a_command()
    {
        await using var h = await SmtpHarness.StartAsync(Outside);
        await h.SendAsync("NOOP\n");
        Assert.Equal("250 2.0.0 Ok", await h.ReadReplyAsync());
    }

    [Theory]
    [InlineData("\n.\n")]
    [InlineData("\r.\n")]
    [InlineData("\n.\r\n")]
    [InlineData("\r.\r\n")]
    public async Task Normalize_ends_data_only_at_crlf_dot_crlf_and_keeps_the_smuggled_part_as_content(string marker)
    {
        await using var h = await SmtpServerSessionDataTests.ReadyForDataAsync(Outside, null);
        // CVE-2023-51764: a forged second transaction behind a non-standard end-of-data sequence.
        await h.SendAsync($"Subject: carrier\r\n\r\nfirst{marker}MAIL FROM:<evil@example.net>\r\nlast\r\n.\r\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        var w = Assert.Single(h.Sink.Writers);
        Assert.True(w.Committed);
        Assert.Contains("MAIL FROM:<evil@example.net>\nlast\n", w.Content);
        Assert.Single(h.Sink.Senders);   // the smuggled MAIL FROM never became a command
    }

    [Fact]
    public async Task Normalize_stores_bare_lf_lines_as_ordinary_lines()
    {
        await using var h = await SmtpServerSessionDataTests.ReadyForDataAsync(Outside, null);
        await h.SendAsync("Subject: mixed\nline two\r\nline three\n\r\n.\r\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        Assert.EndsWith("Subject: mixed\nline two\nline three\n\n", h.Sink.Writers[0].Content);
    }

    [Fact]
    public async Task Reject_with_the_default_550_refuses_the_command_and_the_session_goes_on()
    {
        await using var h = await SmtpHarness.StartAsync(Outside, new SessionExtras(BareNewlineMode.Reject));
        await h.SendAsync("NOOP\n");
        Assert.Equal("550 5.5.2 mail.example.test Error: bare <LF> received", await h.ReadReplyAsync());
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task Reject_with_550_reads_the_message_to_the_real_end_then_refuses_it()
    {
        await using var h = await SmtpServerSessionDataTests.ReadyForDataAsync(Outside, new SessionExtras(BareNewlineMode.Reject));
        await h.SendAsync("Subject: x\r\n\r\nsmuggled\n.\nMAIL FROM:<evil@example.net>\r\n.\r\n");
        Assert.Equal("550 5.5.2 mail.example.test Error: bare <LF> received", await h.ReadReplyAsync());
        var w = Assert.Single(h.Sink.Writers);
        Assert.False(w.Committed);
        Assert.True(w.Disposed);
        // The transaction is over; the session is not.
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<alice@example.com>"));
    }

    [Fact]
    public async Task Reject_code_521_ends_the_session_at_once()
    {
        await using var h = await SmtpHarness.StartAsync(Outside, new SessionExtras(BareNewlineMode.Reject, 521));
        await h.SendAsync("EHLO x\n");
        Assert.Equal("521 5.5.2 mail.example.test Error: bare <LF> received", await h.ReadReplyAsync());
        Assert.True(await h.ServerClosedAsync());
        await h.FinishAsync();
        Assert.Contains(h.Log, l => l.Contains("bare <LF> received after CONNECT from localhost[127.0.0.1]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bdat_content_with_bare_lf_is_normalized_or_rejected()
    {
        await using (var h = await SmtpHarness.StartAsync(Outside))
        {
            await h.CommandAsync("EHLO client.example");
            await h.CommandAsync("MAIL FROM:<alice@example.com>");
            await h.CommandAsync("RCPT TO:<bob@example.com>");
            await h.SendAsync("BDAT 17 LAST\r\nSubject: b\n\nbody\n");
            Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
            Assert.EndsWith("Subject: b\n\nbody\n", h.Sink.Writers[0].Content);
        }
        await using (var h = await SmtpHarness.StartAsync(Outside, new SessionExtras(BareNewlineMode.Reject)))
        {
            await h.CommandAsync("EHLO client.example");
            await h.CommandAsync("MAIL FROM:<alice@example.com>");
            await h.CommandAsync("RCPT TO:<bob@example.com>");
            await h.SendAsync("BDAT 17 LAST\r\nSubject: b\n\nbody\n");
            Assert.Equal("550 5.5.2 mail.example.test Error: bare <LF> received", await h.ReadReplyAsync());
            Assert.False(h.Sink.Writers[0].Committed);
        }
    }
}
