using Xunit;
using System.Text;
using Posthorn.Core;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>notify_classes and smtpd_history_flush_threshold: the session transcript for the postmaster
/// (Postfix smtpd_chat_notify / chat_reset).</summary>
public class SmtpServerSessionNotifyTests
{
    private static SmtpServerOptions With(SmtpErrorClasses classes, int threshold = 100) =>
        SmtpHarness.DefaultOptions with { NotifyClasses = classes, HistoryFlushThreshold = threshold };

    [Fact]
    public async Task Protocol_error_sends_the_whole_transcript_at_the_end_of_the_session()
    {
        var h = await SmtpHarness.StartAsync(With(SmtpErrorClasses.Protocol));
        await h.CommandAsync("EHLO client.example");
        Assert.StartsWith("500 ", await h.CommandAsync("FOO bar"));
        await h.CommandAsync("QUIT");
        await h.FinishAsync();
        var (errors, body) = Assert.Single(h.Sink.Notices);
        Assert.Equal(SmtpErrorClasses.Protocol, errors);
        Assert.StartsWith("Transcript of session follows.\n\n Out: 220 mail.example.test ESMTP Posthorn\n In:  EHLO client.example\n Out: 250-mail.example.test\n", body);
        Assert.Contains("\n In:  FOO bar\n Out: 500 5.5.2 Error: command not recognized\n In:  QUIT\n Out: 221 2.0.0 Bye\n", body);
        Assert.EndsWith("\n\nFor other details, see the local mail logfile\n", body);
        Assert.DoesNotContain("Session aborted", body);
    }

    [Fact]
    public async Task Default_classes_do_not_report_protocol_or_policy_errors()
    {
        var h = await SmtpHarness.StartAsync();   // notify_classes = resource, software
        await h.CommandAsync("HELO c");
        await h.CommandAsync("FOO");
        await h.CommandAsync("MAIL FROM:<spammer@example.com>");
        await h.CommandAsync("QUIT");
        await h.FinishAsync();
        Assert.Empty(h.Sink.Notices);
    }

    [Fact]
    public async Task Policy_reject_is_reported_only_when_policy_is_a_class()
    {
        var policy = await SmtpHarness.StartAsync(With(SmtpErrorClasses.Policy));
        var protocol = await SmtpHarness.StartAsync(With(SmtpErrorClasses.Protocol));
        foreach (var h in new[] { policy, protocol })
        {
            await h.CommandAsync("HELO c");
            Assert.StartsWith("553 5.7.1", await h.CommandAsync("MAIL FROM:<spammer@example.com>"));
            await h.DisconnectAsync();   // no QUIT: the notice says why the session ended
            await h.FinishAsync();
        }
        var (errors, body) = Assert.Single(policy.Sink.Notices);
        Assert.Equal(SmtpErrorClasses.Policy, errors);
        Assert.Contains(" Out: 553 5.7.1 <spammer@example.com>: Sender address rejected: Access denied\n", body);
        Assert.Contains("\nSession aborted, reason: lost connection\n", body);
        Assert.Empty(protocol.Sink.Notices);
    }

    [Fact]
    public async Task Queue_file_failure_is_a_resource_error_reported_by_default()
    {
        var h = await SmtpHarness.StartAsync();
        h.Sink.Commit = _ => new SmtpReply(451, "4.3.0", "Error: queue file write error");
        await h.CommandAsync("HELO c");
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        await h.CommandAsync("RCPT TO:<b@example.com>");
        await h.CommandAsync("DATA");
        Assert.StartsWith("451 4.3.0", await h.CommandAsync("Subject: x\r\n\r\nbody\r\n."));
        await h.CommandAsync("QUIT");
        await h.FinishAsync();
        var (errors, body) = Assert.Single(h.Sink.Notices);
        Assert.Equal(SmtpErrorClasses.Resource, errors);
        Assert.Contains(" In:  DATA\n Out: 354 End data with <CR><LF>.<CR><LF>\n Out: 451 4.3.0 Error: queue file write error\n", body);
        Assert.DoesNotContain("body", body);   // the content is not part of the history
    }

    [Fact]
    public async Task Over_the_flush_threshold_RSET_sends_and_clears_the_history()
    {
        // Greeting, HELO, 250, FOO, 500, RSET, 250: seven lines, over a threshold of 4.
        var h = await SmtpHarness.StartAsync(With(SmtpErrorClasses.Protocol, threshold: 4));
        await h.CommandAsync("HELO c");
        await h.CommandAsync("FOO");
        await h.CommandAsync("RSET");
        lock (h.Sink.Notices) Assert.Single(h.Sink.Notices);   // sent at RSET, before the session ends
        await h.CommandAsync("NOOP");
        await h.CommandAsync("QUIT");
        await h.FinishAsync();
        var (_, body) = Assert.Single(h.Sink.Notices);   // the clean rest of the session sends nothing
        Assert.Contains(" In:  FOO\n", body);
        Assert.Contains(" In:  RSET\n Out: 250 2.0.0 Ok\n", body);
        Assert.DoesNotContain("NOOP", body);
    }

    [Fact]
    public async Task Below_the_threshold_the_history_is_kept_until_the_end()
    {
        var h = await SmtpHarness.StartAsync(With(SmtpErrorClasses.Protocol, threshold: 100));
        await h.CommandAsync("HELO c");
        await h.CommandAsync("RSET");
        await h.CommandAsync("FOO");
        await h.CommandAsync("QUIT");
        await h.FinishAsync();
        var (_, body) = Assert.Single(h.Sink.Notices);
        Assert.Contains(" In:  HELO c\n", body);   // kept across RSET: the history was below the threshold
    }

    [Fact]
    public async Task A_flush_without_error_drops_the_clean_part_of_the_history()
    {
        var h = await SmtpHarness.StartAsync(With(SmtpErrorClasses.Protocol, threshold: 2));
        await h.CommandAsync("HELO early.example");   // greeting + HELO + 250 = 3 lines: flushed, no notice
        await h.CommandAsync("FOO");
        await h.CommandAsync("QUIT");
        await h.FinishAsync();
        var (_, body) = Assert.Single(h.Sink.Notices);
        Assert.DoesNotContain("early.example", body);
        Assert.Contains(" In:  FOO\n", body);
    }

    [Fact]
    public void Auth_data_is_never_recorded()
    {
        var t = new SmtpSessionTranscript(SmtpErrorClasses.Protocol, 100);
        t.In("AUTH PLAIN dXNlcgB1c2VyAHNlY3JldA=="u8);
        t.In("AUTH LOGIN"u8);
        Assert.Equal(["In:  AUTH PLAIN ***", "In:  AUTH LOGIN"], t.Lines);
    }

    [Fact]
    public void Long_lines_wrap_at_78_columns_with_a_four_column_indent()
    {
        var sb = new StringBuilder();
        string line = "Out: 250 " + string.Join(' ', Enumerable.Repeat("word", 30));
        SmtpSessionTranscript.Wrap(sb, line, 78, 4);
        var pieces = sb.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(pieces.Length > 1);
        Assert.All(pieces, p => Assert.True(p.Length <= 79, p));   // one leading space + at most 78
        Assert.StartsWith(" Out: 250 word", pieces[0]);
        Assert.All(pieces.Skip(1), p => Assert.StartsWith("     word", p));
        Assert.Equal(line.Replace(" ", ""), string.Concat(pieces).Replace(" ", ""));
    }
}
