using MimeKit;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Queue;

namespace Posthorn.Mail.Bounce;

/// <summary>A recipient whose delivery is reported in a success notice (RFC 3461 NOTIFY=SUCCESS).</summary>
/// <param name="Recipient">The queue file's recipient.</param>
/// <param name="Local">Delivered here (Action: delivered); otherwise handed to another MTA that was not asked
/// to pass the request on (Action: relayed, RFC 3464 §2.3.3).</param>
public sealed record DeliveredRecipient(QueueRecipient Recipient, bool Local);

/// <summary>RFC 3461 NOTIFY: which recipients get a notice, and the success notice.</summary>
public sealed partial class DsnWriter
{
    /// <summary>The failed recipients a failure notice reports: RFC 3461 §4.1, not those whose NOTIFY
    /// was NEVER or left out FAILURE. A recipient the envelope does not know (from an alias
    /// expansion) goes by the NOTIFY of the envelope recipient it came from.</summary>
    public static IReadOnlyList<BouncedRecipient> Reportable(QueueEnvelope env, IReadOnlyList<BouncedRecipient> failed) =>
        failed.Where(r => QueuedRecipientOf(env, r.Recipient, r.OriginalRecipient)?.NotifyOnFailure ?? true).ToList();

    /// <summary>The deferred recipients a delayed-mail warning reports: RFC 3461 §4.1, those whose NOTIFY has
    /// DELAY, or who gave no NOTIFY (absent NOTIFY may be read as FAILURE,DELAY, and Postfix sends delay warnings
    /// then); not NOTIFY=NEVER, FAILURE, SUCCESS or a mix without DELAY. A recipient the
    /// envelope does not know goes by the envelope recipient it came from, else it is reported.</summary>
    public static IReadOnlyList<BouncedRecipient> DelayReportable(QueueEnvelope env, IReadOnlyList<BouncedRecipient> deferred) =>
        deferred.Where(r => QueuedRecipientOf(env, r.Recipient, r.OriginalRecipient) is not { } q || NotifiesOnDelay(q)).ToList();

    /// <summary>RFC 3461 §4.1 for one recipient: no NOTIFY, or NOTIFY with DELAY (Postfix bounce_warn_service.c
    /// skips recipients whose dsn_notify is set without DSN_NOTIFY_DELAY).</summary>
    public static bool NotifiesOnDelay(QueueRecipient r) =>
        r.Notify == DsnNotifyFlags.Unspecified || (r.Notify & DsnNotifyFlags.Delay) != 0;

    /// <summary>The envelope recipient a reported address belongs to: the same address, or the one it was
    /// rewritten or expanded from (the report's original recipient).</summary>
    public static QueueRecipient? QueuedRecipientOf(QueueEnvelope env, string recipient, string? originalRecipient) =>
        env.Recipients.FirstOrDefault(q => q.Address.Equals(recipient, StringComparison.OrdinalIgnoreCase))
        ?? (originalRecipient is null ? null : env.Recipients.FirstOrDefault(q =>
            q.Address.Equals(originalRecipient, StringComparison.OrdinalIgnoreCase)
            || string.Equals(q.OriginalRecipient, originalRecipient, StringComparison.OrdinalIgnoreCase)));

    /// <summary>The success notice (Postfix bounce.cf.default success template, "Successful Mail Delivery Report").</summary>
    public MimeMessage BuildSuccess(QueuedMessage original, IReadOnlyList<DeliveredRecipient> delivered)
    {
        var report = new MultipartReport("delivery-status");
        var text = new System.Text.StringBuilder();
        text.Append("This is the mail system at host ").Append(myHostname).Append(".\n\n");
        text.Append("Your message was successfully delivered to the destination(s)\n");
        text.Append("listed below. If the message was delivered to mailbox you will\n");
        text.Append("receive no further notifications. Otherwise you may still receive\n");
        text.Append("notifications of mail delivery errors from other systems.\n\n");
        text.Append("                   The ").Append(mailName).Append(" program\n\n");
        foreach (var d in delivered) text.Append('<').Append(d.Recipient.Address).Append(">: ").Append(SuccessText(d)).Append('\n');
        report.Add(new TextPart("plain") { Text = text.ToString(), ContentDescription = "Notification" });

        var status = new MessageDeliveryStatus { ContentDescription = "Delivery report" };
        status.StatusGroups.Add(PerMessageFields(original));
        foreach (var d in delivered)
        {
            var group = RecipientFields(original.Envelope, d.Recipient.Address, d.Recipient.OriginalRecipient);
            group.Add("Action", d.Local ? "delivered" : "relayed");
            group.Add("Status", "2.0.0");
            group.Add("Diagnostic-Code", $"X-Postfix; {SuccessText(d)}");
            status.StatusGroups.Add(group);
        }
        report.Add(status);
        // A success notice never returns the message itself, only its header.
        report.Add(NoticeParts.HeadersPart(original, "Message Headers"));
        return Notice(original, "Successful Mail Delivery Report", report);
    }

    /// <summary>Postfix local(8): "delivered to mailbox". DEVIATION: the SMTP client does not pass NOTIFY on,
    /// so a relayed recipient is reported as relayed with this text of Posthorn's own.</summary>
    private static string SuccessText(DeliveredRecipient d) => d.Local ? "delivered to mailbox" : "relayed to non-DSN-aware mailer";

    /// <summary>After a delivery round: queues one success notice for the recipients with NOTIFY=SUCCESS that this
    /// round delivered (done now, not done before, not bounced). Reads the queue file again only when some
    /// recipient asked. Never throws for an I/O failure: the deliveries stand, the notice is logged as lost.</summary>
    /// <returns>True when a notice was queued (the caller wakes the queue manager).</returns>
    public async Task<bool> QueueSuccessNoticeAsync(QueueDirectory queue, Func<QueueId> newId, QueuedMessage message,
        IReadOnlyList<BouncedRecipient> bounced, Func<string, bool> isLocalDomain, MailLog log, CancellationToken ct)
    {
        var before = message.Envelope;
        if (before.Sender.IsNull || !before.Recipients.Any(r => r.NotifyOnSuccess && !r.Done)) return false;
        try
        {
            var after = QueueFile.Read(message.Path).Envelope;
            var failed = bounced.Select(b => QueuedRecipientOf(before, b.Recipient, b.OriginalRecipient)).ToHashSet();
            var delivered = new List<DeliveredRecipient>();
            for (int i = 0; i < before.Recipients.Count && i < after.Recipients.Count; i++)
            {
                var r = before.Recipients[i];
                if (r.NotifyOnSuccess && !r.Done && after.Recipients[i].Done && !failed.Contains(r))
                    delivered.Add(new DeliveredRecipient(r, isLocalDomain(SmtpPath.FromAddress(r.Address).Domain)));
            }
            if (delivered.Count == 0) return false;
            var id = newId();
            await QueueAsync(queue, id, BuildSuccess(message, delivered), before.Sender, ct).ConfigureAwait(false);
            log.Info("bounce", $"{message.Id}: sender delivery status notification: {id}");
            return true;
        }
        catch (Exception e) when (e is IOException or QueueFileCorruptException)
        {
            log.Warning("bounce", $"{message.Id}: cannot queue the delivery status notification: {e.Message}");
            return false;
        }
    }
}
