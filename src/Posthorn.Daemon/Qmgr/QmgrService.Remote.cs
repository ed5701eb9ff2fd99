using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Outbound;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Qmgr;

public sealed partial class QmgrService
{
    // Postfix qmgr(8): one concurrency window per transport and destination, so a slow destination uses its own
    // slots only (local(8)'s are lanes of the delivery threads: QmgrService.Dispatch).
    private readonly DestinationWindows _windows = new();

    /// <summary>What one delivery round settled: recipients done (marked in the queue file as they settle),
    /// those still pending, and those to report in a bounce. Thread-safe: batches run in parallel.</summary>
    /// <remarks>A done mark is written without fsync(2), as Postfix deliver_completed(3) writes it (a write and a flush of
    /// its buffer, no fsync); <see cref="Persist"/>
    /// makes the round's marks durable together before the message is filed as deferred. A message removed at the
    /// end of its round needs no durable marks: a crash before the removal may deliver again (at least once,
    /// DESIGN.md decision 3), and every delivery agent made its own copy durable before it reported done. Without
    /// <paramref name="marks"/> (one open recipient, no NOTIFY=SUCCESS) the only mark would be followed by the
    /// removal of the file, so none is written.</remarks>
    private sealed class DeliveryRound(string path, bool marks)
    {
        private bool _marked;
        private readonly List<BouncedRecipient> _bounced = [];
        private readonly List<int> _bouncedIndexes = [];
        private readonly List<Problem> _problems = [];
        private bool _pending;

        /// <summary>The recipients deferred by a resource or software problem this round (notify_classes).</summary>
        public IReadOnlyList<Problem> Problems { get { lock (_bounced) return [.. _problems]; } }

        public void Problem(Problem p)
        {
            lock (_bounced) _problems.Add(p);
        }

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

        /// <summary>done: delivered or bounced, never tried again once <see cref="Persist"/> ran.</summary>
        public void Settle(int index, bool done)
        {
            lock (_bounced)
            {
                if (!done) _pending = true;
                else if (marks)
                {
                    QueueFile.MarkDone(path, index, flush: false);
                    _marked = true;
                }
            }
        }

        /// <summary>Makes the done marks of this round durable (one fsync), before the file moves to deferred.</summary>
        public void Persist()
        {
            lock (_bounced)
                if (_marked) QueueFile.Flush(path);
        }
    }

    /// <summary>smtp(8) or lmtp(8): one delivery of a batch of recipients to one next hop, within that
    /// destination's concurrency window (<c>transport_destination_concurrency_limit</c>).</summary>
    private async Task DeliverRemoteAsync(RoundContext c, TransportService service, string nexthop, Target[] targets,
        Action<Target, TargetResult> settle)
    {
        var message = c.Message;
        var env = message.Envelope;
        var start = clock.GetUtcNow();
        bool lmtp = service.Agent == DeliveryAgent.Lmtp;
        NextHop hop = default;
        LmtpDestination lmtpHop = default;
        if (lmtp ? !LmtpDestination.TryParse(nexthop, queue.Root, out lmtpHop) : !NextHop.TryParse(nexthop, out hop))
        {
            log.Warning(service.Program, $"{message.Id}: bad next-hop destination for transport {service.Name}: \"{nexthop}\"");
            foreach (var t in targets) Report(c, service.Program, t, start, ConfigError(), settle);
            return;
        }
        OutboundDeliveryResult result;
        using (var window = await _windows.EnterAsync($"{service.Name}:{nexthop}", service.ConcurrencyLimit, c.Ct))
        {
            start = clock.GetUtcNow();
            var recipients = targets.Select(t => new OutboundRecipient(t.Address, t.OriginalRecipient)).ToList();
            var outbound = new OutboundMessage(message.Id, env.Sender, message.ContentLength, message.OpenContent, env.SmtpUtf8Requested);
            // Postfix smtp_connection_cache_on_demand: other deliveries to this destination are waiting.
            bool backlog = window.Backlog;
            result = lmtp
                ? await transports.Lmtp(c.Settings, service).DeliverAsync(lmtpHop, outbound, recipients, c.Ct, backlog)
                : await transports.Smtp(c.Settings, service).DeliverAsync(hop, outbound, recipients, backlog, c.Ct);
        }

        var delays = new DeliveryDelays(c.ActiveAt - env.ArrivalTime, start - c.ActiveAt, result.Connection, result.Transmission);
        for (int k = 0; k < targets.Length; k++)
        {
            var r = result.Recipients[k];
            var t = targets[k];
            LogDelivery(c.Settings, service.Program, message.Id, new DeliveryRecord(t.Address, t.OriginalRecipient, r.Relay, delays, r.Dsn, r.Outcome, r.Text));
            settle(t, new TargetResult(r.Outcome, r.Dsn, r.Text, r.RemoteMta, r.DiagnosticCode));
        }
    }

    /// <summary>bounce(8): one non-delivery notification per message for the recipients that failed this round
    /// (<see cref="NotifyNonDeliveryAsync"/>: double bounces, notify_classes copies).</summary>
    private async Task BounceAsync(QueuedMessage message, DeliveryRound round, Settings s, CancellationToken ct)
    {
        var writer = new DsnWriter(s.Outbound.MyHostname, s.Outbound.MailName, clock);
        if (await writer.QueueSuccessNoticeAsync(queue, ids.Next, message, round.Bounced, s.IsLocalDomain, log, ct)) Wake();   // RFC 3461 NOTIFY=SUCCESS
        var failed = round.Bounced;
        if (failed.Count == 0) return;
        round.SettleBounced(done: await NotifyNonDeliveryAsync(message, failed, s, ct));
    }
}
