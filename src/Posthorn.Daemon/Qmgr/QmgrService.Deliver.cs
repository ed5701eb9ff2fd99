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
    /// <param name="fresh">The message's first delivery round: no defer log or delay warning mark of it exists yet, and
    /// none is left to remove at the end when the round deferred nothing (four unlink(2)s of absent names saved per
    /// message, issue 9).</param>
    private async Task ProcessAsync(QueueId id, bool fresh, CancellationToken ct)
    {
        string path = queue.PathOf(QueueName.Active, id);
        QueuedMessage message;
        try
        {
            message = QueueFile.Read(path);
        }
        catch (QueueFileCorruptException e)
        {
            log.CorruptQueueFile(id, e.Problem);
            queue.Move(id, QueueName.Active, QueueName.Corrupt);
            return;
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            // Not readable now (an I/O error, a lock): deferred rather than stranded in active/ until the next start;
            // the deferred scan brings it back (its mtime, kept by the rename, is in the past).
            log.Warning("qmgr", $"{id}: cannot read queue file: {e.Message}");
            queue.Move(id, QueueName.Active, QueueName.Deferred);
            return;
        }
        var activeAt = clock.GetUtcNow();
        var env = message.Envelope;
        var s = settings();
        log.QueueActive(id, env.Sender.ToString(), message.ContentLength, env.Recipients.Count);

        if (!fresh) DeferLog.Remove(queue, id);   // Postfix qmgr: a new delivery round starts a new defer log.
        var c = new RoundContext(message, activeAt, s, new DeliveryRound(path, MarksNeeded(env)), ct);
        // trivial-rewrite(8) resolve + transport(5): recipients that share (transport, nexthop) go together.
        var routes = new Dictionary<(string Transport, string NextHop), List<Target>>();
        // Postfix FILTER_README: a FILTER record (access(5), header_checks(5), content_filter) sends every recipient
        // through the filter's transport:nexthop instead of the normal route.
        env.Attributes.TryGetValue(CleanupWriter.ContentFilterAttribute, out string? filter);
        for (int i = 0; i < env.Recipients.Count; i++)
        {
            var rcpt = env.Recipients[i];
            if (rcpt.Done) continue;
            var route = s.Router.Resolve(rcpt.Address, filter);
            var key = (route.Transport, route.NextHop);
            if (!routes.TryGetValue(key, out var list)) routes[key] = list = [];
            list.Add(new Target(i, rcpt.Address, rcpt.OriginalRecipient));
        }
        await Task.WhenAll(routes.Select(r => DispatchAsync(c, r.Key.Transport, r.Key.NextHop, r.Value, (t, result) => SettleQueued(c, t, result))));
        await BounceAsync(message, c.Round, s, ct);
        await NotifyProblemsAsync(message, c.Round, s, ct);   // notify_classes resource, software
        bool deferred = c.Round.Pending;   // some recipient went to the defer log
        bool pending = deferred && await FinishDeferredAsync(message, s, ct);   // expiry, delay warning

        if (!pending)
        {
            bool traces = !fresh || deferred;
            if (traces) DelayWarningMarker.Remove(queue, id);
            queue.Remove(id, QueueName.Active, traces);
            log.Removed(id);
            return;
        }
        c.Round.Persist();   // the done marks first: a deferred file is read again at the next attempt
        queue.Move(id, QueueName.Active, QueueName.Deferred);
        var next = clock.GetUtcNow() + Backoff(clock.GetUtcNow() - env.ArrivalTime, s);
        File.SetLastWriteTimeUtc(queue.PathOf(QueueName.Deferred, id), next.UtcDateTime);
    }

    /// <summary>Whether this round writes a done mark per settled recipient: when more than one recipient is open
    /// (the file may go to deferred with some of them done), or when one asked for NOTIFY=SUCCESS (RFC 3461 §4.1),
    /// whose notice reads the marks back.</summary>
    private static bool MarksNeeded(QueueEnvelope env) =>
        env.Recipients.Count(r => !r.Done) > 1 || env.Recipients.Any(r => r.NotifyOnSuccess && !r.Done);

    /// <summary>Postfix qmgr(8): the retry interval grows with the time the message has spent in the
    /// queue, between minimal_backoff_time and maximal_backoff_time.</summary>
    private static TimeSpan Backoff(TimeSpan age, Settings s) =>
        TimeSpan.FromTicks(Math.Clamp(age.Ticks, s.MinimalBackoff.Ticks, Math.Max(s.MinimalBackoff.Ticks, s.MaximalBackoff.Ticks)));

    /// <summary>local(8) for one queue recipient; settles it in the round: done when delivered, forwarded or
    /// bounced, pending when any part is to be retried.</summary>
    /// <param name="lane">The recipient's concurrency window, which the delivery waits for on the delivery threads.</param>
    private async Task DeliverLocalAsync(RoundContext c, Target t, DeliveryLane lane)
    {
        var message = c.Message;
        var id = message.Id;
        var start = clock.GetUtcNow();
        var request = new LocalDeliveryRequest(id, message.Envelope.Sender, SmtpPath.FromAddress(t.Address), t.OriginalRecipient,
            message.OpenContent, message.Envelope.ArrivalTime);
        LocalDeliveryResult result;
        try
        {
            result = await transports.Local(c.Settings).DeliverAsync(request, lane, c.Ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var status = new EnhancedStatus(4, 3, 0);
            NoteProblem(c, t, software: false, status, e.Message);
            Log("local", t.Address, t.OriginalRecipient, message, c.ActiveAt, start, status, DeliveryOutcome.Deferred, e.Message);
            DeferLog.Append(queue, id, t.Address, status, e.Message);
            c.Round.Settle(t.Index, done: false);
            return;
        }

        bool done = true;
        var localBounces = new List<BouncedRecipient>();
        void Fail(string address, string? original, EnhancedStatus dsn, string text, DeliveryOutcome outcome)
        {
            if (SoftBounces(c.Settings, outcome)) (outcome, dsn) = (DeliveryOutcome.Deferred, dsn with { Class = 4 });
            if (outcome == DeliveryOutcome.Deferred)
            {
                DeferLog.Append(queue, id, t.Address, dsn, text);
                done = false;
            }
            else if (outcome == DeliveryOutcome.Bounced)
            {
                localBounces.Add(new BouncedRecipient(address, original ?? t.OriginalRecipient, dsn, text, null, null));
            }
        }
        // LocalTransport writes each recipient's log line itself (it knows the per-recipient times).
        foreach (var r in result.Results.Where(r => r.PassTo is null)) Fail(r.Recipient, r.OriginalRecipient, r.Dsn, r.Text, r.Outcome);
        foreach (var (pass, r) in await PassOnAsync(c, result.Results.Where(r => r.PassTo is not null).ToList()))
            Fail(pass.Address, pass.OriginalRecipient, r.Dsn, r.Text, r.Outcome);
        // A recipient that is retried (some expansion deferred) is not settled by its bounce notice.
        foreach (var b in localBounces) c.Round.Bounce(done ? t.Index : -1, b);
        if (result.Forward.Count > 0)
        {
            var forwards = result.Forwards.Count > 0 ? result.Forwards : result.Forward.Select(a => new LocalForward(a, null)).ToList();
            foreach (var (to, forwarded) in await ResubmitAsync(message, forwards, c.Settings, c.Ct))
                Log("local", to, t.OriginalRecipient ?? t.Address, message, c.ActiveAt, start,
                    new EnhancedStatus(2, 0, 0), DeliveryOutcome.Sent, $"forwarded as {forwarded}");
        }
        c.Round.Settle(t.Index, done);
    }

    /// <summary>local(8)'s hand-offs (mailbox_transport, fallback_transport): each is delivered by the named
    /// transport now, in this round (Postfix local(8) deliver_pass() hands it to that delivery agent).</summary>
    private async Task<List<(Target, TargetResult)>> PassOnAsync(RoundContext c, IReadOnlyList<LocalRecipientResult> passes)
    {
        var results = new List<(Target, TargetResult)>();
        foreach (var group in passes.GroupBy(p => p.PassTo!))
        {
            var (transport, nexthop) = AddressRouter.Split(group.Key);
            var targets = group.Select(p => new Target(-1, p.Recipient, p.OriginalRecipient)).ToList();
            // transport(5)-style: no nexthop means the recipient's domain.
            foreach (var byHop in targets.GroupBy(x => nexthop.Length > 0 ? nexthop : DomainOf(x.Address)))
                await DispatchAsync(c, transport, byHop.Key, byHop.ToList(), (x, r) => { lock (results) results.Add((x, r)); });
        }
        return results;
    }

    private static string DomainOf(string address)
    {
        int at = address.LastIndexOf('@');
        return at < 0 ? "" : address[(at + 1)..];
    }

    /// <summary>Alias targets elsewhere become a new message with the same content (Postfix local(8)
    /// forward.c): one message per envelope sender (the message's own, or an owner- alias) and
    /// Delivered-To value. Returns each forwarded address with the queue id it went out as.</summary>
    private async Task<List<(string Address, QueueId Id)>> ResubmitAsync(QueuedMessage message, IReadOnlyList<LocalForward> forwards,
        Settings s, CancellationToken ct)
    {
        var sent = new List<(string, QueueId)>();
        foreach (var group in forwards.GroupBy(f => (f.Sender, f.DeliveredTo)))
        {
            var id = ids.Next();
            await using var writer = QueueFileWriter.Create(queue, id, QueueName.Incoming);
            // Postfix local(8): "In order to stop mail forwarding loops early, the software adds an
            // optional Delivered-To: header with the final envelope recipient address".
            if (group.Key.DeliveredTo is { } deliveredTo)
                await writer.WriteAsync(System.Text.Encoding.UTF8.GetBytes($"Delivered-To: {deliveredTo.ToLowerInvariant()}\n"), ct);
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
                // Postfix aliases(5): an owner-NAME alias becomes the forwarded copy's envelope sender.
                Sender = group.Key.Sender is { } owner ? SmtpPath.FromAddress(owner) : env.Sender,
                Recipients = group.Select(f => new QueueRecipient(CleanupWriter.Qualify(SmtpPath.FromAddress(f.Address), s.Cleanup).ToString(), f.Address)).ToList(),
                ArrivalTime = clock.GetUtcNow(),
            }, ct);
            sent.AddRange(group.Select(f => (f.Address, id)));
        }
        Wake();
        return sent;
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
