using System.Globalization;
using Posthorn.Core;

namespace Posthorn.Logging;

/// <summary>Delivery agents' lines (local, virtual, smtp, error, discard) and qmgr's.</summary>
public sealed partial class MailLog
{
    /// <summary>
    /// <c>ID: to=&lt;a@b&gt;, orig_to=&lt;c@d&gt;, relay=local, delay=0.12, delays=0.05/0.01/0/0.06, dsn=2.0.0, status=sent (delivered to mailbox)</c>
    /// </summary>
    public void DeliveryStatus(string program, QueueId id, DeliveryRecord r)
    {
        string origTo = r.OriginalRecipient is { } o && !string.Equals(o, r.Recipient, StringComparison.OrdinalIgnoreCase)
            ? $", orig_to=<{o}>" : "";
        Info(program, $"{id}: to=<{r.Recipient}>{origTo}, relay={r.Relay}, delay={Seconds(r.Delays.Total)}, " +
            $"delays={Seconds(r.Delays.BeforeQueueManager)}/{Seconds(r.Delays.InQueueManager)}/{Seconds(r.Delays.Connection)}/{Seconds(r.Delays.Transmission)}, " +
            $"dsn={r.Dsn}, status={r.Status.ToString().ToLowerInvariant()} ({r.Text})");
    }

    /// <summary><c>ID: from=&lt;a@b&gt;, size=812, nrcpt=1 (queue active)</c></summary>
    public void QueueActive(QueueId id, string sender, long size, int nrcpt) =>
        Info("qmgr", $"{id}: from=<{sender}>, size={size}, nrcpt={nrcpt} (queue active)");

    /// <summary><c>ID: removed</c>, once every recipient is done.</summary>
    public void Removed(QueueId id) => Info("qmgr", $"{id}: removed");

    /// <summary>Postfix's delay format: two significant digits below 10 s, whole seconds above (0.01, 0.5, 1.2, 42).</summary>
    public static string Seconds(TimeSpan t)
    {
        double s = Math.Max(0, t.TotalSeconds);
        if (s >= 10) return ((long)s).ToString(CultureInfo.InvariantCulture);
        if (s >= 1) return s.ToString("0.#", CultureInfo.InvariantCulture);
        return s.ToString("0.##", CultureInfo.InvariantCulture);
    }
}

public enum DeliveryOutcome { Sent, Deferred, Bounced }

/// <summary>Postfix's delays=a/b/c/d: before the queue manager, in the queue manager, connection setup, transmission.</summary>
public readonly record struct DeliveryDelays(TimeSpan BeforeQueueManager, TimeSpan InQueueManager, TimeSpan Connection, TimeSpan Transmission)
{
    public TimeSpan Total => BeforeQueueManager + InQueueManager + Connection + Transmission;
}

/// <summary>What one delivery attempt to one recipient did, as the log line shows it.</summary>
public sealed record DeliveryRecord(
    string Recipient, string? OriginalRecipient, string Relay, DeliveryDelays Delays,
    EnhancedStatus Dsn, DeliveryOutcome Status, string Text);

/// <summary>smtp(8) and bounce(8) lines.</summary>
public sealed partial class MailLog
{
    /// <summary><c>ID: connect to mx.example[192.0.2.1]:25: Connection refused</c>, one per server that failed
    /// before the one that answered (Postfix smtp(8) logs each; the recipient line quotes the last).</summary>
    public void SmtpConnectFailed(QueueId id, string text) => Info("smtp", $"{id}: {text}");

    /// <summary><c>Untrusted TLS connection established to mx.example[192.0.2.1]:25: TLSv1.3 with cipher X (256/256 bits)</c>.</summary>
    public void SmtpTlsEstablished(string relay, string protocol, string cipher, int bits) =>
        Info("smtp", $"Untrusted TLS connection established to {relay}: {protocol} with cipher {cipher} ({bits}/{bits} bits)");

    /// <summary>Opportunistic TLS that failed: Postfix TLS_README, level may, falls back to plaintext.</summary>
    public void SmtpTlsFallback(string relay, string reason) =>
        // The reason is often an exception text with its own full stop: one stop, not two.
        Warning("smtp", $"TLS handshake with {relay} failed: {reason.TrimEnd().TrimEnd('.')}; trying again without TLS");

    /// <summary><c>ID: sender non-delivery notification: NEWID</c> (postfix/bounce).</summary>
    public void SenderNonDeliveryNotification(QueueId id, QueueId bounceId) =>
        Info("bounce", $"{id}: sender non-delivery notification: {bounceId}");

    /// <summary>A bounce that would go to the null sender (a bounce of a bounce) is not sent; Postfix
    /// would send a double bounce to 2bounce_notice_recipient instead.</summary>
    public void BounceDiscarded(QueueId id) =>
        Info("bounce", $"{id}: undeliverable mail with null sender: no non-delivery notification");
}
