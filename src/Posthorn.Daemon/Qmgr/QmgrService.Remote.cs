using System.Collections.Concurrent;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Outbound;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Qmgr;

public sealed partial class QmgrService
{
    // Postfix qmgr(8): one concurrency window per next hop, so a slow destination uses its own
    // slots only. DEVIATION: the limit is fixed (no slow start / feedback), and the windows of
    // destinations no longer in use are kept for the life of the process.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _destinations = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>What one delivery round settled: recipients done (marked in the queue file as they settle),
    /// those still pending, and those to report in a bounce. Thread-safe: batches run in parallel.</summary>
    private sealed class DeliveryRound(string path)
    {
        private readonly List<BouncedRecipient> _bounced = [];
        private readonly List<int> _bouncedIndexes = [];
        private bool _pending;

        public bool Pending { get { lock (_bounced) return _pending; } }

        public IReadOnlyList<BouncedRecipient> Bounced { get { lock (_bounced) return [.. _bounced]; } }

        /// <summary>A failed recipient: marked done only once its notice is queued (<see cref="SettleBounced"/>),
        /// so a crash in between bounces it again rather than not at all.</summary>
        public void Bounce(int index, BouncedRecipient r)
        {
            lock (_bounced)
            {
                _bounced.Add(r);
                _bouncedIndexes.Add(index);
            }
        }

        public void SettleBounced(bool done)
        {
            lock (_bounced)
                foreach (int i in _bouncedIndexes.Distinct()) if (i >= 0) Settle(i, done);
        }

        /// <summary>done: delivered or bounced, never tried again (QueueFile.MarkDone fsyncs before returning).</summary>
        public void Settle(int index, bool done)
        {
            lock (_bounced)
            {
                if (done) QueueFile.MarkDone(path, index);
                else _pending = true;
            }
        }
    }

    private async Task DeliverRemoteAsync(QueuedMessage message, NextHop hop, int[] indexes, DateTimeOffset activeAt,
        Settings s, DeliveryRound round, CancellationToken ct)
    {
        var env = message.Envelope;
        var window = _destinations.GetOrAdd(hop.ToString(), _ => new SemaphoreSlim(s.Outbound.DestinationConcurrencyLimit));
        await window.WaitAsync(ct);
        OutboundDeliveryResult result;
        var start = clock.GetUtcNow();
        try
        {
            var recipients = indexes.Select(i => new OutboundRecipient(env.Recipients[i].Address, env.Recipients[i].OriginalRecipient)).ToList();
            var outbound = new OutboundMessage(message.Id, env.Sender, message.ContentLength, message.OpenContent);
            result = await transports.Smtp(s).DeliverAsync(hop, outbound, recipients, ct);
        }
        finally
        {
            window.Release();
        }

        for (int k = 0; k < indexes.Length; k++)
        {
            var r = result.Recipients[k];
            var rcpt = env.Recipients[indexes[k]];
            var delays = new DeliveryDelays(activeAt - env.ArrivalTime, start - activeAt, result.Connection, result.Transmission);
            log.DeliveryStatus("smtp", message.Id, new DeliveryRecord(rcpt.Address, rcpt.OriginalRecipient, r.Relay, delays, r.Dsn, r.Outcome, r.Text));
            switch (r.Outcome)
            {
                case DeliveryOutcome.Deferred:
                    DeferLog.Append(queue, message.Id, rcpt.Address, r.Dsn, r.Text);
                    round.Settle(indexes[k], done: false);
                    break;
                case DeliveryOutcome.Bounced:
                    round.Bounce(indexes[k], new BouncedRecipient(rcpt.Address, rcpt.OriginalRecipient, r.Dsn, r.Text, r.RemoteMta, r.DiagnosticCode));
                    break;
                default:
                    round.Settle(indexes[k], done: true);
                    break;
            }
        }
    }

    /// <summary>bounce(8): one non-delivery notification per message for the recipients that failed this round.</summary>
    /// <remarks>RFC 5321 §6.1 / Postfix: mail from the null sender is never bounced (no bounce loops).
    /// DEVIATION: Postfix sends such a double bounce to 2bounce_notice_recipient; Posthorn only logs it.</remarks>
    private async Task BounceAsync(QueuedMessage message, DeliveryRound round, Settings s, CancellationToken ct)
    {
        var writer = new DsnWriter(s.Outbound.MyHostname, s.Outbound.MailName, clock);
        if (await writer.QueueSuccessNoticeAsync(queue, ids.Next, message, round.Bounced, s.IsLocalDomain, log, ct)) Wake();   // RFC 3461 NOTIFY=SUCCESS
        var failed = DsnWriter.Reportable(message.Envelope, round.Bounced);   // RFC 3461 NOTIFY=NEVER: no notice
        if (failed.Count == 0)
        {
            round.SettleBounced(done: true);
            return;
        }
        if (message.Envelope.Sender.IsNull)
        {
            log.BounceDiscarded(message.Id);
            round.SettleBounced(done: true);
            return;
        }
        var bounceId = ids.Next();
        try
        {
            await writer.QueueAsync(queue, bounceId, writer.Build(message, failed), message.Envelope.Sender, ct);
        }
        catch (IOException e)
        {
            // The failed recipients stay pending: the next round fails them again and retries the notice.
            log.Warning("bounce", $"{message.Id}: cannot queue the non-delivery notification: {e.Message}");
            round.SettleBounced(done: false);
            return;
        }
        round.SettleBounced(done: true);
        log.SenderNonDeliveryNotification(message.Id, bounceId);
        Wake();
    }
}
