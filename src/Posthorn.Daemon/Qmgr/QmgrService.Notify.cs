using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Cleanup;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Qmgr;

/// <summary>notify_classes (postconf(5)): which problems the postmaster hears about.</summary>
/// <param name="Bounce">"bounce": a headers-only copy of every non-delivery notice to bounce_notice_recipient;
/// implies <paramref name="DoubleBounce"/>.</param>
/// <param name="DoubleBounce">"2bounce": a bounce that cannot be returned goes to 2bounce_notice_recipient.</param>
/// <param name="Delay">"delay": a headers-only copy of every delayed-mail warning to delay_notice_recipient.</param>
/// <param name="Resource">"resource": mail not delivered because of a resource problem (a queue or mailbox file
/// that cannot be written) is reported to error_notice_recipient.</param>
/// <param name="Software">"software": mail not delivered because of a software problem (a transport with no
/// master.cf row, a mail system configuration error) is reported to error_notice_recipient.</param>
public readonly record struct NotifyClasses(bool Bounce, bool DoubleBounce, bool Delay, bool Resource = false, bool Software = false)
{
    /// <summary>Parses notify_classes; names are case-insensitive, the others (policy, protocol, data: smtpd/cleanup
    /// transcripts) do not concern the queue manager.</summary>
    public static NotifyClasses From(ConfigSnapshot cfg)
    {
        var names = cfg.GetList("notify_classes").Select(n => n.ToLowerInvariant()).ToHashSet();
        bool bounce = names.Contains("bounce");
        // Postfix postconf(5): "bounce (also implies 2bounce)".
        return new NotifyClasses(bounce, bounce || names.Contains("2bounce"), names.Contains("delay"),
            names.Contains("resource"), names.Contains("software"));
    }
}

public sealed partial class QmgrService
{
    /// <summary>The double-bounce address, <c>double_bounce_sender@myhostname</c>: the sender of postmaster
    /// notices (Postfix mail_addr_double_bounce()).</summary>
    internal static SmtpPath DoubleBounceAddress(ConfigSnapshot cfg) =>
        SmtpPath.FromAddress($"{cfg.Get("double_bounce_sender")}@{cfg.Get("myhostname")}");

    /// <summary>soft_bounce = yes (postconf(5)): a permanent failure is kept queued as a deferral, with the same
    /// text and the DSN class turned to 4.</summary>
    /// <remarks>Every recipient line shows status=SOFTBOUNCE as Postfix does: smtp(8), lmtp(8), error(8) here,
    /// local(8) and virtual(8) in their own lines (LocalDeliveryOptions.SoftBounce). smtpd's 5xx → 4xx part is in
    /// SmtpServerSession.</remarks>
    internal static bool SoftBounces(Settings s, DeliveryOutcome outcome) =>
        outcome == DeliveryOutcome.Bounced && s.Config.GetBool("soft_bounce");

    /// <summary>The record as a soft bounce: 4.X.X, deferred.</summary>
    internal static DeliveryRecord AsSoftBounce(DeliveryRecord r) =>
        r with { Dsn = r.Dsn with { Class = 4 }, Status = DeliveryOutcome.Deferred };

    /// <summary>A transport's result with soft_bounce applied.</summary>
    private static TargetResult Soften(Settings s, TargetResult r) =>
        SoftBounces(s, r.Outcome) ? r with { Outcome = DeliveryOutcome.Deferred, Dsn = r.Dsn with { Class = 4 } } : r;

    /// <summary>A recipient's log line; a soft bounce shows <c>dsn=4.X.X, status=SOFTBOUNCE</c> as in Postfix.</summary>
    private void LogDelivery(Settings s, string program, QueueId id, DeliveryRecord record)
    {
        if (SoftBounces(s, record.Status)) log.SoftBounce(program, id, AsSoftBounce(record));
        else log.DeliveryStatus(program, id, record);
    }

    /// <summary>bounce(8) for <paramref name="failed"/>: the notice to the sender, a double bounce to the postmaster
    /// when the sender is null, nothing when the message is itself a postmaster notice; plus the notify_classes
    /// copy. True when the failed recipients may be marked done (the notice is queued or deliberately not sent).</summary>
    /// <remarks>Postfix bounce_notify_service.c. RFC 5321 §6.1: never a bounce of a bounce (the double bounce
    /// goes to the postmaster from double_bounce_sender, and a failed double bounce is discarded).</remarks>
    private async Task<bool> NotifyNonDeliveryAsync(QueuedMessage message, IReadOnlyList<BouncedRecipient> failed, Settings s,
        CancellationToken ct)
    {
        failed = DsnWriter.Reportable(message.Envelope, failed);   // RFC 3461 NOTIFY=NEVER (or without FAILURE): no notice
        if (failed.Count == 0) return true;
        var cfg = s.Config;
        var sender = message.Envelope.Sender;
        var classes = NotifyClasses.From(cfg);
        var doubleBounce = DoubleBounceAddress(cfg);
        if (!sender.IsNull && string.Equals(sender.ToString(), doubleBounce.ToString(), StringComparison.OrdinalIgnoreCase))
        {
            // "Double bounce failed. Never send a triple bounce."
            log.PostmasterNotificationDiscarded(message.Id);
            return true;
        }
        if (sender.IsNull)
        {
            if (!classes.DoubleBounce)
            {
                log.BounceDiscarded(message.Id);
                return true;
            }
            if (await QueuePostmasterNoticeAsync(message, failed, NoticeKind.PostmasterFailure, "2bounce_notice_recipient", s, ct)
                is not { } id2) return false;
            log.PostmasterNonDeliveryNotification(message.Id, id2);
            return true;
        }

        // postconf(5) bounce_size_limit: how much of the original message the notice returns.
        var writer = new DsnWriter(s.Outbound.MyHostname, s.Outbound.MailName, clock, cfg.GetSize("bounce_size_limit"));
        var bounceId = ids.Next();
        try
        {
            await writer.QueueAsync(queue, bounceId, writer.Build(message, failed), sender, ct);
        }
        catch (IOException e)
        {
            // The failed recipients stay pending: the next round fails them again and retries the notice.
            log.Warning("bounce", $"{message.Id}: cannot queue the non-delivery notification: {e.Message}");
            return false;
        }
        log.SenderNonDeliveryNotification(message.Id, bounceId);
        if (classes.Bounce)
        {
            // Postfix: "This postmaster notice is not critical": a failure is only logged.
            var copy = await QueuePostmasterNoticeAsync(message, failed, NoticeKind.PostmasterFailure, "bounce_notice_recipient", s, ct);
            if (copy is { } copyId) log.PostmasterNonDeliveryNotification(message.Id, copyId);
            else log.Warning("bounce", $"{message.Id}: postmaster notice failed while bouncing to {sender}");
        }
        Wake();
        return true;
    }

    /// <summary>Queues a headers-only postmaster notice to the address in <paramref name="recipientParameter"/>,
    /// from the double-bounce address; null when it could not be queued (logged).</summary>
    private async Task<QueueId?> QueuePostmasterNoticeAsync(QueuedMessage message, IReadOnlyList<BouncedRecipient> recipients,
        NoticeKind kind, string recipientParameter, Settings s, CancellationToken ct)
    {
        var cfg = s.Config;
        var to = CleanupWriter.Qualify(SmtpPath.FromAddress(cfg.Get(recipientParameter).Trim()), s.Cleanup);
        var builder = new NoticeBuilder(s.Outbound.MyHostname, s.Outbound.MailName, clock);
        var id = ids.Next();
        try
        {
            var notice = builder.Build(message, recipients, kind, to.ToString(),
                cfg.GetTime("delay_warning_time"), cfg.GetTime("maximal_queue_lifetime"));
            await builder.QueueAsync(queue, id, notice, DoubleBounceAddress(cfg), to, ct);
        }
        catch (IOException e)
        {
            log.Warning("bounce", $"{message.Id}: cannot queue the postmaster notification: {e.Message}");
            return null;
        }
        Wake();
        return id;
    }
}
