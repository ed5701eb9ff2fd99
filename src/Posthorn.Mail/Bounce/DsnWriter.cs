using System.Text;
using MimeKit;
using MimeKit.Utils;
using Posthorn.Core;
using Posthorn.Mail.Queue;

namespace Posthorn.Mail.Bounce;

/// <summary>One recipient the notice reports on (RFC 3464 §2.3 per-recipient fields).</summary>
/// <param name="Text">Postfix's reason text, quoted in the human-readable part.</param>
/// <param name="RemoteMta">Remote-MTA host name, when a server answered.</param>
/// <param name="DiagnosticCode">The server's reply (Diagnostic-Code: smtp; …) or, without one, Postfix's text (X-Postfix; …).</param>
public sealed record BouncedRecipient(string Recipient, string? OriginalRecipient, EnhancedStatus Status, string Text,
    string? RemoteMta, string? DiagnosticCode);

/// <summary>bounce(8): builds the RFC 3464 non-delivery notification and queues it.</summary>
/// <remarks>
/// Standards: RFC 3464 (message/delivery-status), RFC 6522 (multipart/report), RFC 3462/6522
/// text/rfc822-headers. Postfix bounce(8) wording for the human part (bounce.cf.default).
/// The notice is from <c>MAILER-DAEMON@myhostname</c> with the null envelope sender, so that it
/// never causes another bounce (RFC 5321 §4.5.5, §6.1).
/// Parameters: myhostname, mail_name.
/// </remarks>
public sealed class DsnWriter(string myHostname, string mailName, TimeProvider clock)
{
    /// <summary>The notice for <paramref name="original"/>'s failed recipients, with its original headers.</summary>
    public MimeMessage Build(QueuedMessage original, IReadOnlyList<BouncedRecipient> failed)
    {
        var env = original.Envelope;
        var dsn = new MimeMessage();
        dsn.From.Add(new MailboxAddress("Mail Delivery System", $"MAILER-DAEMON@{myHostname}"));
        dsn.To.Add(MailboxAddress.Parse(env.Sender.ToString()));
        dsn.Subject = "Undelivered Mail Returned to Sender";
        dsn.Date = clock.GetUtcNow();
        dsn.MessageId = $"{clock.GetUtcNow().ToUnixTimeMilliseconds()}.{original.Id}@{myHostname}";
        dsn.Headers.Add("Auto-Submitted", "auto-replied");   // RFC 3834 §5

        var report = new MultipartReport("delivery-status");
        report.Add(new TextPart("plain")
        {
            Text = HumanText(failed),
            ContentDescription = "Notification",
        });

        var status = new MessageDeliveryStatus { ContentDescription = "Delivery report" };
        var perMessage = new HeaderList
        {
            { "Reporting-MTA", $"dns; {myHostname}" },
            { "X-Postfix-Queue-ID", original.Id.Value },
            { "X-Postfix-Sender", $"rfc822; {env.Sender}" },
            { "Arrival-Date", DateUtils.FormatDate(env.ArrivalTime) },
        };
        status.StatusGroups.Add(perMessage);
        foreach (var r in failed)
        {
            var group = new HeaderList { { "Final-Recipient", $"rfc822; {r.Recipient}" } };
            if (r.OriginalRecipient is { } orcpt) group.Add("Original-Recipient", $"rfc822;{orcpt}");
            group.Add("Action", "failed");
            group.Add("Status", r.Status.ToString());
            if (r.RemoteMta is { } mta) group.Add("Remote-MTA", $"dns; {mta}");
            group.Add("Diagnostic-Code", r.DiagnosticCode is { } code ? $"smtp; {code}" : $"X-Postfix; {r.Text}");
            status.StatusGroups.Add(group);
        }
        report.Add(status);

        // RFC 6522 §4: text/rfc822-headers, the header of the returned message only.
        var headers = new TextRfc822Headers { Message = MimeMessage.Load(new MemoryStream(ReadHeaders(original))) };
        headers.Headers[HeaderId.ContentDescription] = "Undelivered Message Headers";
        report.Add(headers);
        dsn.Body = report;
        return dsn;
    }

    /// <summary>Postfix bounce.cf.default, failure template, then one line per recipient.</summary>
    private string HumanText(IReadOnlyList<BouncedRecipient> failed)
    {
        var sb = new StringBuilder();
        sb.Append("This is the mail system at host ").Append(myHostname).Append(".\n\n");
        sb.Append("I'm sorry to have to inform you that your message could not\n");
        sb.Append("be delivered to one or more recipients. It's attached below.\n\n");
        sb.Append("For further assistance, please send mail to postmaster.\n\n");
        sb.Append("If you do so, please include this problem report. You can\n");
        sb.Append("delete your own text from the attached returned message.\n\n");
        sb.Append("                   The ").Append(mailName).Append(" program\n\n");
        foreach (var r in failed) sb.Append('<').Append(r.Recipient).Append(">: ").Append(r.Text).Append('\n');
        return sb.ToString();
    }

    /// <summary>The original header, up to the empty line (bounded: a header without an end stops at 1 MB).</summary>
    private static byte[] ReadHeaders(QueuedMessage original)
    {
        using var content = original.OpenContent();
        using var reader = new StreamReader(content, Encoding.UTF8);
        var sb = new StringBuilder();
        string? line;
        while ((line = reader.ReadLine()) is { Length: > 0 } && sb.Length < 1_000_000) sb.Append(line).Append('\n');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>Queues <paramref name="dsn"/> as message <paramref name="id"/> from the null sender to
    /// <paramref name="recipient"/>, in incoming/ (LF line ends, like every queue file).</summary>
    public async Task QueueAsync(QueueDirectory queue, QueueId id, MimeMessage dsn, SmtpPath recipient, CancellationToken ct)
    {
        var bytes = new MemoryStream();
        await dsn.WriteToAsync(new FormatOptions { NewLineFormat = NewLineFormat.Unix }, bytes, ct).ConfigureAwait(false);
        await using var writer = QueueFileWriter.Create(queue, id, QueueName.Incoming);
        await writer.WriteAsync(bytes.GetBuffer().AsMemory(0, (int)bytes.Length), ct).ConfigureAwait(false);
        await writer.CommitAsync(new QueueEnvelope(SmtpPath.Null, [new QueueRecipient(recipient.ToString())], clock.GetUtcNow()), ct).ConfigureAwait(false);
    }
}
