using Posthorn.Core;

namespace Posthorn.Logging;

/// <summary>qmgr(8) routing lines and the lmtp(8) client's own lines.</summary>
public sealed partial class MailLog
{
    /// <summary><c>warning: connect to transport private/NAME: No such file or directory</c>: a transport with no
    /// master.cf row (Postfix qmgr(8)); its recipients are deferred "mail transport unavailable".</summary>
    public void TransportUnavailable(string transport) =>
        Warning("qmgr", $"connect to transport private/{transport}: No such file or directory");

    /// <summary>A queue file qmgr cannot read: <c>warning: ID: corrupt queue file: PROBLEM</c>, then Postfix
    /// qmgr_active.c qmgr_active_corrupt()'s <c>warning: saving corrupt file "ID" from queue "active" to queue
    /// "corrupt"</c>.</summary>
    public void CorruptQueueFile(QueueId id, string problem)
    {
        Warning("qmgr", $"{id}: corrupt queue file: {problem}");
        Warning("qmgr", $"saving corrupt file \"{id}\" from queue \"active\" to queue \"corrupt\"");
    }

    /// <summary><c>ID: connect to host[/path]: No such file or directory</c> from lmtp(8), as
    /// <see cref="SmtpConnectFailed"/> is from smtp(8).</summary>
    public void LmtpConnectFailed(QueueId id, string text) => Info("lmtp", $"{id}: {text}");
}

/// <summary>qmgr(8) expiry and bounce(8)'s delay, soft-bounce and postmaster notices.</summary>
public sealed partial class MailLog
{
    /// <summary><c>ID: from=&lt;a@b&gt;, status=expired, returned to sender</c>: the message outlived
    /// maximal_queue_lifetime (bounce_queue_lifetime for the null sender); Postfix qmgr_active_done().</summary>
    public void Expired(QueueId id, string sender) =>
        Info("qmgr", $"{id}: from=<{sender}>, status=expired, returned to sender");

    /// <summary>A recipient line as <see cref="DeliveryStatus"/> writes it, with <c>status=SOFTBOUNCE</c>: a permanent
    /// failure kept queued because <c>soft_bounce = yes</c> (Postfix bounce.c logs it so, with a 4.X.X dsn).</summary>
    public void SoftBounce(string program, QueueId id, DeliveryRecord r)
    {
        string origTo = r.OriginalRecipient is { } o && !string.Equals(o, r.Recipient, StringComparison.OrdinalIgnoreCase)
            ? $", orig_to=<{o}>" : "";
        Info(program, $"{id}: to=<{r.Recipient}>{origTo}, relay={r.Relay}, delay={Seconds(r.Delays.Total)}, " +
            $"delays={Seconds(r.Delays.BeforeQueueManager)}/{Seconds(r.Delays.InQueueManager)}/{Seconds(r.Delays.Connection)}/{Seconds(r.Delays.Transmission)}, " +
            $"dsn={r.Dsn}, status=SOFTBOUNCE ({r.Text})");
    }

    /// <summary><c>ID: sender delay notification: NEWID</c> (postfix/bounce).</summary>
    public void SenderDelayNotification(QueueId id, QueueId noticeId) =>
        Info("bounce", $"{id}: sender delay notification: {noticeId}");

    /// <summary><c>ID: postmaster non-delivery notification: NEWID</c>: a double bounce or a notify_classes
    /// bounce copy (postfix/bounce).</summary>
    public void PostmasterNonDeliveryNotification(QueueId id, QueueId noticeId) =>
        Info("bounce", $"{id}: postmaster non-delivery notification: {noticeId}");

    /// <summary><c>ID: postmaster resource notification: NEWID</c> (or software): notify_classes resource/software.</summary>
    public void PostmasterErrorNotification(QueueId id, QueueId noticeId, string errorClass) =>
        Info("bounce", $"{id}: postmaster {errorClass} notification: {noticeId}");

    /// <summary><c>ID: postmaster delay notification: NEWID</c> (notify_classes delay).</summary>
    public void PostmasterDelayNotification(QueueId id, QueueId noticeId) =>
        Info("bounce", $"{id}: postmaster delay notification: {noticeId}");

    /// <summary><c>warning: ID: undeliverable postmaster notification discarded</c>: a double bounce that failed
    /// is never bounced again (Postfix bounce_notify_service.c: "Never send a triple bounce").</summary>
    public void PostmasterNotificationDiscarded(QueueId id) =>
        Warning("bounce", $"{id}: undeliverable postmaster notification discarded");
}
