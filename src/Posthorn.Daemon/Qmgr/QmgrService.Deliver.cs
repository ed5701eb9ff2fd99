using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Cleanup;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Outbound;
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

        DeferLog.Remove(queue, id);   // Postfix qmgr: a new delivery round starts a new defer log.
        var round = new DeliveryRound(path);
        var remote = new Dictionary<NextHop, List<int>>();
        for (int i = 0; i < env.Recipients.Count; i++)
        {
            var rcpt = env.Recipients[i];
            if (rcpt.Done) continue;
            var address = SmtpPath.FromAddress(rcpt.Address);
            if (s.IsLocalDomain(address.Domain))
            {
                var start = clock.GetUtcNow();
                bool done = await DeliverLocalAsync(id, message, i, rcpt, address, activeAt, start, s, round, ct);
                round.Settle(i, done);
            }
            else
            {
                var hop = s.Outbound.NextHopFor(address.Domain);
                if (!remote.TryGetValue(hop, out var list)) remote[hop] = list = [];
                list.Add(i);
            }
        }
        var batches = remote.SelectMany(g => g.Value.Chunk(s.Outbound.DestinationRecipientLimit).Select(b => (Hop: g.Key, Indexes: b)));
        await Task.WhenAll(batches.Select(b => DeliverRemoteAsync(message, b.Hop, b.Indexes, activeAt, s, round, ct)));
        await BounceAsync(message, round, s, ct);
        bool pending = round.Pending;

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
    private async Task<bool> DeliverLocalAsync(QueueId id, QueuedMessage message, int index, QueueRecipient rcpt, SmtpPath address,
        DateTimeOffset activeAt, DateTimeOffset start, Settings s, DeliveryRound round, CancellationToken ct)
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
        var localBounces = new List<BouncedRecipient>();
        // LocalTransport writes each recipient's log line itself (it knows the per-recipient times).
        foreach (var r in result.Results)
        {
            if (r.Outcome == DeliveryOutcome.Deferred)
            {
                DeferLog.Append(queue, id, rcpt.Address, r.Dsn, r.Text);
                done = false;
            }
            else if (r.Outcome == DeliveryOutcome.Bounced)
            {
                localBounces.Add(new BouncedRecipient(r.Recipient, r.OriginalRecipient ?? rcpt.OriginalRecipient, r.Dsn, r.Text, null, null));
            }
        }
        // A recipient that is retried (some expansion deferred) is not settled by its bounce notice.
        foreach (var b in localBounces) round.Bounce(done ? index : -1, b);
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
