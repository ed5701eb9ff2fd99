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

/// <summary>bounce(8): builds the RFC 3464 delivery status notifications and queues them.</summary>
/// <remarks>
/// Standards: RFC 3464 (message/delivery-status), RFC 6522 (multipart/report), RFC 3461 (NOTIFY, RET,
/// ENVID, ORCPT), RFC 6522 text/rfc822-headers. Postfix bounce(8) wording for the human part (bounce.cf.default).
/// A notice is from <c>MAILER-DAEMON@myhostname</c> with the null envelope sender, so that it
/// never causes another bounce (RFC 5321 §4.5.5, §6.1).
/// Parameters: myhostname, mail_name, bounce_size_limit.
/// </remarks>
public sealed partial class DsnWriter(string myHostname, string mailName, TimeProvider clock, long bounceSizeLimit = 50_000)
{
    /// <summary>The failure notice for <paramref name="original"/>'s failed recipients. RFC 3461 §4.3: with
    /// RET=HDRS only the header is returned; otherwise the whole message, unless it is larger than
    /// bounce_size_limit (Postfix then returns the header only).</summary>
    public MimeMessage Build(QueuedMessage original, IReadOnlyList<BouncedRecipient> failed)
    {
        var env = original.Envelope;
        var report = new MultipartReport("delivery-status");
        report.Add(new TextPart("plain") { Text = FailureText(failed), ContentDescription = "Notification" });
        var status = new MessageDeliveryStatus { ContentDescription = "Delivery report" };
        status.StatusGroups.Add(PerMessageFields(original));
        foreach (var r in failed)
        {
            var group = RecipientFields(env, r.Recipient, r.OriginalRecipient);
            group.Add("Action", "failed");
            group.Add("Status", r.Status.ToString());
            if (r.RemoteMta is { } mta) group.Add("Remote-MTA", $"dns; {mta}");
            group.Add("Diagnostic-Code", r.DiagnosticCode is { } code ? $"smtp; {code}" : $"X-Postfix; {r.Text}");
            status.StatusGroups.Add(group);
        }
        report.Add(status);
        if (!env.DsnReturnHeadersOnly && (bounceSizeLimit <= 0 || original.ContentLength <= bounceSizeLimit))
        {
            // RFC 3464 §2: the returned message as message/rfc822.
            using var content = original.OpenContent();
            var returned = new MessagePart { Message = MimeMessage.Load(content) };
            returned.Headers[HeaderId.ContentDescription] = "Undelivered Message";
            report.Add(returned);
        }
        else
        {
            report.Add(NoticeParts.HeadersPart(original, "Undelivered Message Headers"));
        }
        return Notice(original, "Undelivered Mail Returned to Sender", report);
    }

    private MimeMessage Notice(QueuedMessage original, string subject, MultipartReport report)
    {
        var dsn = new MimeMessage();
        dsn.From.Add(new MailboxAddress("Mail Delivery System", $"MAILER-DAEMON@{myHostname}"));
        dsn.To.Add(MailboxAddress.Parse(original.Envelope.Sender.ToString()));
        dsn.Subject = subject;
        dsn.Date = clock.GetUtcNow();
        dsn.MessageId = $"{clock.GetUtcNow().ToUnixTimeMilliseconds()}.{original.Id}@{myHostname}";
        dsn.Headers.Add("Auto-Submitted", "auto-replied");   // RFC 3834 §5
        dsn.Body = report;
        return dsn;
    }

    /// <summary>RFC 3464 §2.2: per-message fields; Original-Envelope-Id first when the sender gave ENVID (§2.2.1).</summary>
    private HeaderList PerMessageFields(QueuedMessage original)
    {
        var env = original.Envelope;
        var fields = new HeaderList();
        if (env.DsnEnvelopeId is { } envid) fields.Add("Original-Envelope-Id", envid);
        fields.Add("Reporting-MTA", $"dns; {myHostname}");
        fields.Add("X-Postfix-Queue-ID", original.Id.Value);
        fields.Add("X-Postfix-Sender", $"rfc822; {env.Sender}");
        fields.Add("Arrival-Date", DateUtils.FormatDate(env.ArrivalTime));
        return fields;
    }

    /// <summary>RFC 3464 §2.3.1: Original-Recipient is the ORCPT as given when there was one (RFC 3461 §4.2),
    /// otherwise, as Postfix does, the address before rewriting. Postfix's order: Final-Recipient first.</summary>
    private static HeaderList RecipientFields(QueueEnvelope env, string recipient, string? originalRecipient)
    {
        var group = new HeaderList { { "Final-Recipient", $"rfc822; {recipient}" } };
        string? orcpt = QueuedRecipientOf(env, recipient, originalRecipient)?.DsnOriginalRecipient;
        if (orcpt is not null) group.Add("Original-Recipient", orcpt);
        else if (originalRecipient is { } orig) group.Add("Original-Recipient", $"rfc822;{orig}");
        return group;
    }

    /// <summary>Postfix bounce.cf.default, failure template, then one line per recipient.</summary>
    private string FailureText(IReadOnlyList<BouncedRecipient> failed)
    {
        var sb = new StringBuilder();
        sb.Append("This is the mail system at host ").Append(myHostname).Append(".\n\n");
        sb.Append("I'm sorry to have to inform you that your message could not\n");
        sb.Append("be delivered to one or more recipients. It's attached below.\n\n");
        NoticeParts.AppendClosing(sb, mailName);
        foreach (var r in failed) sb.Append('<').Append(r.Recipient).Append(">: ").Append(r.Text).Append('\n');
        return sb.ToString();
    }

    /// <summary>Queues <paramref name="dsn"/> as message <paramref name="id"/> from the null sender to
    /// <paramref name="recipient"/>, in incoming/ (LF line ends, like every queue file).</summary>
    public async Task QueueAsync(QueueDirectory queue, QueueId id, MimeMessage dsn, SmtpPath recipient, CancellationToken ct)
    {
        await NoticeParts.QueueAsync(queue, id, dsn, SmtpPath.Null, recipient, clock.GetUtcNow(), ct).ConfigureAwait(false);
    }
}
