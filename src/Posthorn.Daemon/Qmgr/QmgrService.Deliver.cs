using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Cleanup;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Qmgr;

public sealed partial class QmgrService
{
    private async Task ProcessAsync(QueueId id, CancellationToken ct)
    {
        string path = queue.PathOf(QueueName.Active, id);
        QueuedMessage message;
        try
        {
            message = QueueFile.Read(path);
        }
        catch (QueueFileCorruptException e)
        {
            log.Warning("qmgr", $"{id}: corrupt queue file: {e.Message}; moved to the corrupt queue");
            queue.Move(id, QueueName.Active, QueueName.Corrupt);
            return;
        }
        var activeAt = clock.GetUtcNow();
        var env = message.Envelope;
        var s = settings();
        log.QueueActive(id, env.Sender.ToString(), message.ContentLength, env.Recipients.Count);

        bool pending = false;
        for (int i = 0; i < env.Recipients.Count; i++)
        {
            var rcpt = env.Recipients[i];
            if (rcpt.Done) continue;
            var address = SmtpPath.FromAddress(rcpt.Address);
            var start = clock.GetUtcNow();
            bool done;
            if (s.IsLocalDomain(address.Domain))
            {
                done = await DeliverLocalAsync(id, message, rcpt, address, activeAt, start, s, ct);
            }
            else
            {
                // The outbound SMTP client arrives with issue 6; until then non-local mail waits here,
                // with the reason Postfix gives for a transport that is not running.
                var status = new EnhancedStatus(4, 3, 0);
                const string reason = "mail transport unavailable";
                Log("none", rcpt.Address, rcpt.OriginalRecipient, message, activeAt, start, status, DeliveryOutcome.Deferred, reason);
                DeferLog.Append(queue, id, rcpt.Address, status, reason);
                done = false;
            }
            if (done) QueueFile.MarkDone(path, i);
            else pending = true;
        }

        if (!pending)
        {
            queue.Remove(id, QueueName.Active);
            log.Removed(id);
            return;
        }
        queue.Move(id, QueueName.Active, QueueName.Deferred);
        var next = clock.GetUtcNow() + Backoff(clock.GetUtcNow() - env.ArrivalTime, s);
        File.SetLastWriteTimeUtc(queue.PathOf(QueueName.Deferred, id), next.UtcDateTime);
    }

    /// <summary>Postfix qmgr(8): the retry interval grows with the time the message has spent in the
    /// queue, between minimal_backoff_time and maximal_backoff_time.</summary>
    private static TimeSpan Backoff(TimeSpan age, Settings s) =>
        TimeSpan.FromTicks(Math.Clamp(age.Ticks, s.MinimalBackoff.Ticks, Math.Max(s.MinimalBackoff.Ticks, s.MaximalBackoff.Ticks)));

    /// <returns>true when the recipient is finished (delivered, forwarded or bounced), false to retry later.</returns>
    private async Task<bool> DeliverLocalAsync(QueueId id, QueuedMessage message, QueueRecipient rcpt, SmtpPath address,
        DateTimeOffset activeAt, DateTimeOffset start, Settings s, CancellationToken ct)
    {
        var request = new LocalDeliveryRequest(id, message.Envelope.Sender, address, rcpt.OriginalRecipient,
            message.OpenContent, message.Envelope.ArrivalTime);
        LocalDeliveryResult result;
        try
        {
            result = await transports.Local(s).DeliverAsync(request, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var status = new EnhancedStatus(4, 3, 0);
            Log("local", rcpt.Address, rcpt.OriginalRecipient, message, activeAt, start, status, DeliveryOutcome.Deferred, e.Message);
            DeferLog.Append(queue, id, rcpt.Address, status, e.Message);
            return false;
        }

        bool done = true;
        // LocalTransport writes each recipient's log line itself (it knows the per-recipient times).
        foreach (var r in result.Results)
        {
            if (r.Outcome == DeliveryOutcome.Deferred)
            {
                DeferLog.Append(queue, id, rcpt.Address, r.Dsn, r.Text);
                done = false;
            }
        }
        if (result.Forward.Count > 0)
        {
            var forwarded = await ResubmitAsync(message, result.Forward, s, ct);
            foreach (var to in result.Forward)
                Log("local", to, rcpt.OriginalRecipient ?? rcpt.Address, message, activeAt, start,
                    new EnhancedStatus(2, 0, 0), DeliveryOutcome.Sent, $"forwarded as {forwarded}");
        }
        return done;
    }

    /// <summary>Alias targets elsewhere become a new message with the same sender and content (Postfix local(8)).</summary>
    private async Task<QueueId> ResubmitAsync(QueuedMessage message, IReadOnlyList<string> recipients, Settings s, CancellationToken ct)
    {
        var id = ids.Next();
        await using var writer = QueueFileWriter.Create(queue, id, QueueName.Incoming);
        await using (var content = message.OpenContent())
        {
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = await content.ReadAsync(buffer, ct)) > 0)
                await writer.WriteAsync(buffer.AsMemory(0, n), ct);
        }
        var env = message.Envelope;
        await writer.CommitAsync(env with
        {
            Recipients = recipients.Select(r => new QueueRecipient(CleanupWriter.Qualify(SmtpPath.FromAddress(r), s.Cleanup).ToString(), r)).ToList(),
            ArrivalTime = clock.GetUtcNow(),
        }, ct);
        Wake();
        return id;
    }

    private void Log(string relay, string recipient, string? origTo, QueuedMessage message, DateTimeOffset activeAt,
        DateTimeOffset start, EnhancedStatus dsn, DeliveryOutcome outcome, string text)
    {
        var end = clock.GetUtcNow();
        var delays = new DeliveryDelays(activeAt - message.Envelope.ArrivalTime, start - activeAt, TimeSpan.Zero, end - start);
        log.DeliveryStatus(relay == "none" ? "qmgr" : relay, message.Id,
            new DeliveryRecord(recipient, origTo, relay, delays, dsn, outcome, text));
    }
}
