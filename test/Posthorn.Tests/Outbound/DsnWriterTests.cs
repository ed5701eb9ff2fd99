using System.Text;
using MimeKit;
using Posthorn.Core;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Outbound;

public sealed class DsnWriterTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-dsn-");
    private static readonly DateTimeOffset Now = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Notice_is_a_multipart_report_with_delivery_status_and_original_headers_from_the_null_sender()
    {
        var queue = new QueueDirectory(_dir.FullName);
        queue.EnsureCreated();
        var originalId = new QueueId("AAAAA0000001");
        await using (var w = QueueFileWriter.Create(queue, originalId, QueueName.Active))
        {
            await w.WriteAsync(Encoding.UTF8.GetBytes("From: alice@here.test\nSubject: Hello\nMessage-ID: <m1@here.test>\n\nsecret body\n"), CancellationToken.None);
            await w.CommitAsync(new QueueEnvelope(SmtpPath.FromAddress("alice@here.test"),
                [new QueueRecipient("bob@remote.test", "Bob@Remote.test")], Now.AddMinutes(-5)), CancellationToken.None);
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
