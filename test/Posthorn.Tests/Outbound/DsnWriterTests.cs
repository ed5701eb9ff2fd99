using System.Text;
using MimeKit;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Outbound;

public sealed class DsnWriterTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-dsn-");
    private static readonly DateTimeOffset Now = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public void Dispose() => _dir.Delete(recursive: true);

    private static readonly SmtpPath Alice = SmtpPath.FromAddress("alice@here.test");

    private async Task<(QueueDirectory Queue, QueuedMessage Message)> OriginalAsync(QueueEnvelope env,
        string content = "From: alice@here.test\nSubject: Hello\n\nsecret body\n", string idText = "AAAAA0000001")
    {
        var queue = new QueueDirectory(_dir.FullName);
        queue.EnsureCreated();
        var id = new QueueId(idText);
        await using (var w = QueueFileWriter.Create(queue, id, QueueName.Active))
        {
            await w.WriteAsync(Encoding.UTF8.GetBytes(content), CancellationToken.None);
            await w.CommitAsync(env, CancellationToken.None);
        }
        return (queue, QueueFile.Read(queue.PathOf(QueueName.Active, id)));
    }

    private static BouncedRecipient Failed(string address, string? orig = null) =>
        new(address, orig, EnhancedStatus.Parse("5.1.1"), "unknown user", null, null);

    [Fact]
    public async Task Without_ret_hdrs_the_whole_message_comes_back_with_envid_and_orcpt()
    {
        var env = new QueueEnvelope(Alice,
            [new QueueRecipient("bob@here.test", Notify: DsnNotifyFlags.Failure, DsnOriginalRecipient: "rfc822;Bob+x@here.test")],
            Now, new Dictionary<string, string> { [QueueEnvelope.DsnEnvelopeIdAttribute] = "QQ314" });
        var (_, original) = await OriginalAsync(env);
        var dsn = new DsnWriter("mail.here.test", "Posthorn", new FixedTime(Now)).Build(original, [Failed("bob@here.test")]);
        var report = Assert.IsType<MultipartReport>(dsn.Body);
        var returned = Assert.IsType<MessagePart>(report[2]);
        Assert.Equal("Undelivered Message", returned.Headers[HeaderId.ContentDescription]);
        Assert.Contains("secret body", Assert.IsType<TextPart>(returned.Message!.Body).Text);
        var status = Assert.IsType<MessageDeliveryStatus>(report[1]);
        Assert.Equal("QQ314", status.StatusGroups[0]["Original-Envelope-Id"]);
        Assert.Equal("Original-Envelope-Id", status.StatusGroups[0][0].Field);   // RFC 3464 §2.2: first
        Assert.Equal("rfc822;Bob+x@here.test", status.StatusGroups[1]["Original-Recipient"]);
    }

    [Fact]
    public async Task A_message_over_bounce_size_limit_comes_back_as_headers_only()
    {
        var (_, original) = await OriginalAsync(new QueueEnvelope(Alice, [new QueueRecipient("bob@here.test")], Now),
            "Subject: big\n\n" + new string('x', 200) + "\n");
        var dsn = new DsnWriter("mail.here.test", "Posthorn", new FixedTime(Now), bounceSizeLimit: 100).Build(original, [Failed("bob@here.test")]);
        Assert.IsType<TextRfc822Headers>(Assert.IsType<MultipartReport>(dsn.Body)[2]);
    }

    [Fact]
    public void Notify_never_or_without_failure_is_not_reported_and_expansions_follow_their_envelope_recipient()
    {
        var env = new QueueEnvelope(Alice,
        [
            new QueueRecipient("never@here.test", Notify: DsnNotifyFlags.Never),
            new QueueRecipient("success@here.test", Notify: DsnNotifyFlags.Success),
            new QueueRecipient("plain@here.test"),
            new QueueRecipient("list@here.test", Notify: DsnNotifyFlags.Never),
        ], Now);
        var reportable = DsnWriter.Reportable(env,
            [Failed("never@here.test"), Failed("success@here.test"), Failed("plain@here.test"), Failed("member@there.test", "list@here.test")]);
        Assert.Equal(["plain@here.test"], reportable.Select(r => r.Recipient));
    }

    [Fact]
    public async Task Notify_success_queues_a_success_notice_for_the_recipients_delivered_this_round()
    {
        var env = new QueueEnvelope(Alice,
        [
            new QueueRecipient("bob@here.test", Notify: DsnNotifyFlags.Success | DsnNotifyFlags.Failure, DsnOriginalRecipient: "rfc822;bob@here.test"),
            new QueueRecipient("carol@here.test"),
            new QueueRecipient("dave@remote.test", Notify: DsnNotifyFlags.Success),
            new QueueRecipient("erin@here.test", Notify: DsnNotifyFlags.Success),
        ], Now, new Dictionary<string, string> { [QueueEnvelope.DsnEnvelopeIdAttribute] = "E1" });
        var (queue, original) = await OriginalAsync(env);
        // The round: bob, carol and dave delivered; erin stays queued.
        QueueFile.MarkDone(original.Path, 0);
        QueueFile.MarkDone(original.Path, 1);
        QueueFile.MarkDone(original.Path, 2);
        var logSink = new MemoryLogSink();
        var log = new MailLog(logSink, "postfix", "mail.here.test", new FixedTime(Now), pid: 1);
        var writer = new DsnWriter("mail.here.test", "Posthorn", new FixedTime(Now));
        var noticeId = new QueueId("CCCCC0000003");
        Assert.True(await writer.QueueSuccessNoticeAsync(queue, () => noticeId, original, [], d => d == "here.test", log, CancellationToken.None));
        Assert.Contains(logSink.Lines, l => l.EndsWith("AAAAA0000001: sender delivery status notification: CCCCC0000003", StringComparison.Ordinal));

        var notice = QueueFile.Read(queue.PathOf(QueueName.Incoming, noticeId));
        Assert.True(notice.Envelope.Sender.IsNull);
        Assert.Equal("alice@here.test", Assert.Single(notice.Envelope.Recipients).Address);
        using var content = notice.OpenContent();
        var dsn = MimeMessage.Load(content);
        Assert.Equal("Successful Mail Delivery Report", dsn.Subject);
        var report = Assert.IsType<MultipartReport>(dsn.Body);
        Assert.Contains("<bob@here.test>: delivered to mailbox", ((TextPart)report[0]).Text);
        var status = Assert.IsType<MessageDeliveryStatus>(report[1]);
        Assert.Equal("E1", status.StatusGroups[0]["Original-Envelope-Id"]);
        // bob and dave; not carol (no NOTIFY), not erin (not delivered). MimeKit reads a trailing empty group.
        Assert.Equal(3, status.StatusGroups.Count(g => g.Count > 0));
        Assert.Equal("delivered", status.StatusGroups[1]["Action"]);
        Assert.Equal("2.0.0", status.StatusGroups[1]["Status"]);
        Assert.Equal("rfc822;bob@here.test", status.StatusGroups[1]["Original-Recipient"]);
        Assert.Equal("rfc822; dave@remote.test", status.StatusGroups[2]["Final-Recipient"]);
        Assert.Equal("relayed", status.StatusGroups[2]["Action"]);
        Assert.IsType<TextRfc822Headers>(report[2]);
        Assert.DoesNotContain("secret body", new StreamReader(notice.OpenContent()).ReadToEnd());

        // A bounce of a bounce is impossible, and so is a success notice for the null sender.
        var (_, fromNull) = await OriginalAsync(env with { Sender = SmtpPath.Null }, idText: "AAAAA0000009");
        Assert.False(await writer.QueueSuccessNoticeAsync(queue, () => new QueueId("DDDDD0000004"), fromNull, [], _ => true, log, CancellationToken.None));
    }

    [Fact]
    public async Task Notice_is_a_multipart_report_with_delivery_status_and_original_headers_from_the_null_sender()
    {
        var queue = new QueueDirectory(_dir.FullName);
        queue.EnsureCreated();
        var originalId = new QueueId("AAAAA0000001");
        await using (var w = QueueFileWriter.Create(queue, originalId, QueueName.Active))
        {
            await w.WriteAsync(Encoding.UTF8.GetBytes("From: alice@here.test\nSubject: Hello\nMessage-ID: <m1@here.test>\n\nsecret body\n"), CancellationToken.None);
            // RFC 3461 RET=HDRS: only the header comes back.
            await w.CommitAsync(new QueueEnvelope(SmtpPath.FromAddress("alice@here.test"),
                [new QueueRecipient("bob@remote.test", "Bob@Remote.test")], Now.AddMinutes(-5),
                new Dictionary<string, string> { [QueueEnvelope.DsnReturnAttribute] = "HDRS" }), CancellationToken.None);
        }
        var original = QueueFile.Read(queue.PathOf(QueueName.Active, originalId));
        var writer = new DsnWriter("mail.here.test", "Posthorn", new FixedTime(Now));
        var failed = new BouncedRecipient("bob@remote.test", "Bob@Remote.test", EnhancedStatus.Parse("5.1.1"),
            "host mx.remote.test[192.0.2.1] said: 550 5.1.1 <bob@remote.test>: User unknown (in reply to RCPT TO command)",
            "mx.remote.test", "550 5.1.1 <bob@remote.test>: User unknown");
        var local = new BouncedRecipient("nobody@here.test", null, EnhancedStatus.Parse("5.1.1"), "unknown user: \"nobody\"", null, null);

        var bounceId = new QueueId("BBBBB0000002");
        await writer.QueueAsync(queue, bounceId, writer.Build(original, [failed, local]), SmtpPath.FromAddress("alice@here.test"), CancellationToken.None);

        var queued = QueueFile.Read(queue.PathOf(QueueName.Incoming, bounceId));
        Assert.True(queued.Envelope.Sender.IsNull);
        Assert.Equal("alice@here.test", Assert.Single(queued.Envelope.Recipients).Address);
        using var content = queued.OpenContent();
        var raw = new StreamReader(queued.OpenContent()).ReadToEnd();
        Assert.DoesNotContain("\r\n", raw);   // queue files hold LF line ends
        var dsn = MimeMessage.Load(content);

        Assert.Equal("MAILER-DAEMON@mail.here.test", ((MailboxAddress)dsn.From.Single()).Address);
        Assert.Equal("Undelivered Mail Returned to Sender", dsn.Subject);
        var report = Assert.IsType<MultipartReport>(dsn.Body);
        Assert.Equal("delivery-status", report.ReportType);
        Assert.Equal(3, report.Count);

        var human = Assert.IsType<TextPart>(report[0]);
        Assert.StartsWith("This is the mail system at host mail.here.test.", human.Text);
        Assert.Contains("<bob@remote.test>: host mx.remote.test[192.0.2.1] said: 550 5.1.1", human.Text);
        Assert.Contains("<nobody@here.test>: unknown user: \"nobody\"", human.Text);

        var status = Assert.IsType<MessageDeliveryStatus>(report[1]);
        Assert.Equal(3, status.StatusGroups.Count);
        var perMessage = status.StatusGroups[0];
        Assert.Equal("dns; mail.here.test", perMessage["Reporting-MTA"]);
        Assert.Equal(Now.AddMinutes(-5), MimeKit.Utils.DateUtils.TryParse(perMessage["Arrival-Date"], out var arrival) ? arrival : default);
        var remote = status.StatusGroups[1];
        Assert.Equal("rfc822; bob@remote.test", remote["Final-Recipient"]);
        Assert.Equal("rfc822;Bob@Remote.test", remote["Original-Recipient"]);
        Assert.Equal("failed", remote["Action"]);
        Assert.Equal("5.1.1", remote["Status"]);
        Assert.Equal("dns; mx.remote.test", remote["Remote-MTA"]);
        Assert.Equal("smtp; 550 5.1.1 <bob@remote.test>: User unknown", remote["Diagnostic-Code"]);
        var localGroup = status.StatusGroups[2];
        Assert.Null(localGroup["Remote-MTA"]);
        Assert.Equal("X-Postfix; unknown user: \"nobody\"", localGroup["Diagnostic-Code"]);

        var headers = Assert.IsType<TextRfc822Headers>(report[2]);
        Assert.Equal("Hello", headers.Message!.Subject);
        Assert.DoesNotContain("secret body", raw);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
