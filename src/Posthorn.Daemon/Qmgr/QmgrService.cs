using System.Threading.Channels;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Qmgr;

/// <summary>qmgr(8): moves mail from incoming to active, hands each recipient to its transport,
/// and files the message as removed or deferred.</summary>
/// <remarks>
/// Moving a file from incoming/ to active/ is the claim: a message is in at most one place, and on
/// start everything left in active/ (a crash) goes back to incoming/ (Postfix qmgr does the same),
/// so no message is lost or stuck. A recipient is marked done in the queue file only after its
/// delivery succeeded or failed for good; a crash in between delivers it again (at least once).
/// Deferred messages wait in deferred/ with the next attempt time as the file's mtime, as in Postfix.
/// Each recipient is routed as trivial-rewrite(8) and transport(5) do (<see cref="AddressRouter"/>):
/// its address class gives a default (transport, nexthop), transport_maps may override it. Recipients
/// that share both go to that master.cf transport together (<see cref="TransportService"/>): local(8),
/// virtual(8), smtp(8), lmtp(8), error(8)/retry, discard(8), pipe(8) rows; an unknown transport defers ("mail transport
/// unavailable"). smtp/lmtp deliveries run at most transport_destination_concurrency_limit at once per
/// next hop with at most transport_destination_recipient_limit recipients each, so a slow destination
/// holds only its own slots; failed recipients get one RFC 3464 notice per message (bounce(8)).
/// Parameters: queue_run_delay, minimal_backoff_time, maximal_backoff_time, qmgr_message_active_limit,
/// default_destination_concurrency_limit, default_destination_recipient_limit and their per-transport forms,
/// and what AddressRouter reads.
/// </remarks>
public sealed partial class QmgrService(Func<Settings> settings, QueueDirectory queue, QueueIdGenerator ids,
    Transports transports, MailLog log, TimeProvider clock)
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    // Postfix qmgr_message_active_limit: messages in active/ at once. Each waits on its destinations'
    // own limits (QmgrService.Remote.cs), so a slow destination holds only its own slots.
    private readonly SemaphoreSlim _active = new((int)Math.Clamp(settings().Config.GetNumber("qmgr_message_active_limit"), 1, 20000));
    private readonly List<Task> _running = [];
    private int _sweepAt = 64;   // _running's length at which its completed tasks are dropped next
    private CancellationToken _runToken;   // RunAsync's, for the deliveries smtpd hands over (Admitted)
    private bool _admitting;   // RunAsync has put back what a previous run left in active/, and has not ended

    /// <summary>New mail is in incoming/ (smtpd, pickup, a resubmission): look now rather than at the next timer.</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary><c>postqueue -f</c>: every deferred message becomes eligible now.</summary>
    public void Flush()
    {
        foreach (var id in queue.List(QueueName.Deferred).ToList())
        {
            try { queue.Move(id, QueueName.Deferred, QueueName.Incoming); }
            catch (IOException) { /* taken by another scan meanwhile: it is moving anyway. */ }
        }
        Wake();
    }

    public async Task RunAsync(CancellationToken ct)
    {
        foreach (var id in queue.List(QueueName.Active).ToList())
            queue.Move(id, QueueName.Active, QueueName.Incoming);
        _runToken = ct;
        Volatile.Write(ref _admitting, true);
        var lastDeferredScan = DateTimeOffset.MinValue;
        while (!ct.IsCancellationRequested)
        {
            var s = settings();
            var now = clock.GetUtcNow();
            if (now - lastDeferredScan >= TimeSpan.FromSeconds(Math.Min(s.QueueRunDelay.TotalSeconds, 60)))
            {
                ReleaseDueDeferred(now);
                lastDeferredScan = now;
            }
            await ClaimIncomingAsync(ct);
            using var tick = CancellationTokenSource.CreateLinkedTokenSource(ct);
            tick.CancelAfter(TimeSpan.FromSeconds(1));
            try { await _wake.Reader.ReadAsync(tick.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { /* timer tick */ }
            catch (OperationCanceledException) { break; }
        }
        Volatile.Write(ref _admitting, false);
        Task[] pending;
        lock (_running) pending = [.. _running];
        await Task.WhenAll(pending);
    }

    /// <summary>Moves what is in incoming/ to active/ and starts its delivery, as many as
    /// qmgr_message_active_limit allows. The claim is a group commit: the messages renamed while
    /// slots were free share one fsync of active/, which comes before any of them is delivered
    /// (one fsync per batch instead of one per message, DESIGN.md decision 3).</summary>
    private async Task ClaimIncomingAsync(CancellationToken ct)
    {
        var claimed = new List<QueueId>();
        foreach (var id in queue.List(QueueName.Incoming).ToList())
        {
            if (!_active.Wait(0))
            {
                // No free slot: what is claimed so far goes out before this loop waits for one.
                StartClaimed(claimed, ct);
                await _active.WaitAsync(ct);
            }
            try
            {
                queue.MoveUnsynced(id, QueueName.Incoming, QueueName.Active);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _active.Release();
                log.Warning("qmgr", $"{id}: cannot move to active: {e.Message}");
                continue;
            }
            claimed.Add(id);
        }
        StartClaimed(claimed, ct);
    }

    /// <summary>Makes the batch's renames durable, then starts one delivery per message.</summary>
    private void StartClaimed(List<QueueId> claimed, CancellationToken ct)
    {
        if (claimed.Count == 0) return;
        try
        {
            queue.SyncQueue(QueueName.Active);
        }
        catch (IOException e)
        {
            // The files stay in active/ undelivered until the next start puts them back in incoming/.
            foreach (var id in claimed) log.Warning("qmgr", $"{id}: cannot move to active: {e.Message}");
            _active.Release(claimed.Count);
            claimed.Clear();
            return;
        }
        foreach (var id in claimed) Start(id, wakeAfter: true, fresh: false, ct);
        claimed.Clear();
    }

    /// <summary>Delivers <paramref name="id"/>, which is in active/ and holds one of the active slots; the slot is
    /// given back when it is done, and with <paramref name="wakeAfter"/> the loop looks at incoming/ again.
    /// <paramref name="fresh"/>: smtpd has just made the file, so this is its first delivery round.</summary>
    private void Start(QueueId id, bool wakeAfter, bool fresh, CancellationToken ct)
    {
        var task = Task.Run(async () =>
        {
            try { await ProcessAsync(id, fresh, ct); }
            finally
            {
                _active.Release();
                if (wakeAfter) Wake();
            }
        }, CancellationToken.None);
        lock (_running)
        {
            // Completed tasks are dropped once the list has doubled since the last sweep: a sweep per message cost
            // O(n) each while thousands of messages waited for their recipient's concurrency slot.
            if (_running.Count >= _sweepAt)
            {
                _running.RemoveAll(t => t.IsCompleted);
                _sweepAt = Math.Max(64, 2 * _running.Count);
            }
            _running.Add(task);
        }
    }

    /// <summary>smtpd's hand-off (DESIGN.md decision 3): takes one active slot for a message that is not committed yet,
    /// so that its queue file is published straight into active/ and <see cref="Admitted"/> starts its delivery. This
    /// saves what the claim of a file in incoming/ costs per message: the directory scan, the rename, the fsync(2)
    /// of active/ and a wake-up of this loop. False when no slot is free or the loop is not running (starting, where
    /// it moves active/ back to incoming/, or stopped): the file then goes to incoming/ as before. Every true is
    /// followed by exactly one <see cref="Admitted"/> or <see cref="Declined"/>.</summary>
    public bool TryAdmit() => Volatile.Read(ref _admitting) && _active.Wait(0);

    /// <summary>The admitted message's file is in active/: deliver it. A file there is safe whatever happens next,
    /// since every start of the loop puts active/ back into incoming/.</summary>
    public void Admitted(QueueId id) => Start(id, wakeAfter: false, fresh: true, _runToken);

    /// <summary>The admitted message did not reach active/ (refused, failed, or held): the slot is free again.</summary>
    public void Declined() => _active.Release();

    /// <summary>Deferred files whose mtime (the next attempt time) has passed go back to incoming.</summary>
    private void ReleaseDueDeferred(DateTimeOffset now)
    {
        foreach (var id in queue.List(QueueName.Deferred).ToList())
        {
            try
            {
                if (File.GetLastWriteTimeUtc(queue.PathOf(QueueName.Deferred, id)) <= now.UtcDateTime)
                    queue.Move(id, QueueName.Deferred, QueueName.Incoming);
            }
            catch (IOException) { /* removed by postsuper meanwhile */ }
        }
    }
}
