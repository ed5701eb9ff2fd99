using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Qmgr;

/// <summary>What qmgr(8) does with a message that still has deferred recipients after a delivery round:
/// return it when it is too old, or warn its sender once when it has waited delay_warning_time.</summary>
/// <remarks>Postfix qmgr_active.c qmgr_active_done(): "If the message is too old, try to bounce it"
/// (maximal_queue_lifetime, bounce_queue_lifetime for the null sender; arrival time from the queue file), else
/// "sending defer warning" once the warning time has come. The notices quote the defer log's reasons.
/// Parameters: maximal_queue_lifetime, bounce_queue_lifetime, delay_warning_time, notify_classes,
/// delay_notice_recipient.</remarks>
public sealed partial class QmgrService
{
    /// <summary>The lifetime that applies to a message from <paramref name="sender"/>.</summary>
    internal static TimeSpan LifetimeOf(SmtpPath sender, ConfigSnapshot cfg) =>
        // postconf(5) bounce_queue_lifetime: "the maximal time a bounce message is queued".
        cfg.GetTime(sender.IsNull ? "bounce_queue_lifetime" : "maximal_queue_lifetime");

    /// <summary>Whether a message that arrived at <paramref name="arrival"/> has outlived its lifetime at
    /// <paramref name="now"/>. A lifetime of 0 means one attempt only (postconf(5)).</summary>
    internal static bool IsExpired(DateTimeOffset arrival, TimeSpan lifetime, DateTimeOffset now) => now >= arrival + lifetime;

    /// <summary>Whether the delay warning is due: delay_warning_time is set (0 disables) and has passed.
    /// Postfix qmgr compares with "warn_time - 1", one second early.</summary>
    internal static bool IsWarningDue(DateTimeOffset arrival, TimeSpan delayWarning, DateTimeOffset now) =>
        delayWarning > TimeSpan.Zero && now >= arrival + delayWarning - TimeSpan.FromSeconds(1);

    /// <summary>After a round that left recipients deferred: expires or warns. Returns whether the message is still
    /// pending (false: it expired, its notice is queued, and the caller removes it).</summary>
    private async Task<bool> FinishDeferredAsync(QueuedMessage message, Settings s, CancellationToken ct)
    {
        var env = message.Envelope;
        var now = clock.GetUtcNow();
        var cfg = s.Config;
        var deferred = DeferredRecipients(message);
        // Pending with nothing deferred: a notice could not be queued; the next round tries it again.
        if (deferred.Count == 0) return true;
        if (IsExpired(env.ArrivalTime, LifetimeOf(env.Sender, cfg), now))
        {
            log.Expired(message.Id, env.Sender.ToString());
            // Postfix defer_flush(): the deferred recipients are returned with their last reasons, Action: failed.
            return !await NotifyNonDeliveryAsync(message, deferred, s, ct);
        }
        if (IsWarningDue(env.ArrivalTime, cfg.GetTime("delay_warning_time"), now)
            && !DelayWarningMarker.Exists(queue, message.Id))
        {
            await WarnDelayedAsync(message, deferred, s, ct);
        }
        return true;
    }

    /// <summary>The defer log's latest entry for each recipient still pending, as notice recipients.</summary>
    private List<BouncedRecipient> DeferredRecipients(QueuedMessage message)
    {
        var latest = new Dictionary<string, DeferLogEntry>(StringComparer.OrdinalIgnoreCase);
        foreach (var e in DeferLog.ReadEntries(queue, message.Id)) latest[e.Recipient] = e;
        var result = new List<BouncedRecipient>();
        foreach (var r in message.Envelope.Recipients)
        {
            if (r.Done || !latest.Remove(r.Address, out var e)) continue;
            result.Add(new BouncedRecipient(r.Address, r.OriginalRecipient, e.Dsn, e.Reason, null, null));
        }
        // Addresses that local(8) expanded to (aliases, .forward) are in the log but not in the envelope.
        foreach (var e in latest.Values) result.Add(new BouncedRecipient(e.Recipient, null, e.Dsn, e.Reason, null, null));
        return result;
    }

    /// <summary>bounce(8) defer_warn: one "Delayed Mail (still being retried)" notice to the sender about the
    /// recipients whose DSN NOTIFY allows it, and a postmaster copy about all deferred recipients when notify_classes
    /// has delay (postmaster notices are not governed by RFC 3461). Marked as sent once the sender's notice is queued,
    /// or at once when no recipient wants one.</summary>
    private async Task WarnDelayedAsync(QueuedMessage message, List<BouncedRecipient> deferred, Settings s, CancellationToken ct)
    {
        var cfg = s.Config;
        var env = message.Envelope;
        var builder = new NoticeBuilder(s.Outbound.MyHostname, s.Outbound.MailName, clock);
        // RFC 3461 §4.1: only the recipients whose NOTIFY allows DELAY (or who gave none) are in the sender's warning.
        var warned = DsnWriter.DelayReportable(env, deferred);
        // No warning to the null sender or to the double-bounce address: those are notices already.
        if (warned.Count > 0 && !env.Sender.IsNull && !string.Equals(env.Sender.ToString(), DoubleBounceAddress(cfg).ToString(), StringComparison.OrdinalIgnoreCase))
        {
            var id = ids.Next();
            try
            {
                var notice = builder.Build(message, warned, NoticeKind.SenderDelay, env.Sender.ToString(),
                    cfg.GetTime("delay_warning_time"), LifetimeOf(env.Sender, cfg));
                await builder.QueueAsync(queue, id, notice, SmtpPath.Null, env.Sender, ct);
            }
            catch (IOException e)
            {
                log.Warning("bounce", $"{message.Id}: cannot queue the delay notification: {e.Message}");
                return;   // not marked: tried again next round
            }
            log.SenderDelayNotification(message.Id, id);
            Wake();
        }
        DelayWarningMarker.Set(queue, message.Id);
        if (NotifyClasses.From(cfg).Delay
            && await QueuePostmasterNoticeAsync(message, deferred, NoticeKind.PostmasterDelay, "delay_notice_recipient", s, ct) is { } copy)
            log.PostmasterDelayNotification(message.Id, copy);
    }
}
