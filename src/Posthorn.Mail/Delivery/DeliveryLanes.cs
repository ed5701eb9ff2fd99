namespace Posthorn.Mail.Delivery;

/// <summary>Postfix qmgr(8)'s per-destination concurrency for deliveries made on the delivery threads: at most
/// <c>limit</c> deliveries to one destination (local(8)'s is the recipient) run at once, and the others wait here, in
/// arrival order, for a delivery thread of that destination to take them.</summary>
/// <remarks>
/// A destination with deliveries waiting has up to <c>limit</c> runners, each a work item of the delivery threads that
/// makes one delivery after another until none waits. A delivery that waited therefore starts on the thread that ended
/// the one before it, with no trip through the thread pool and no thread woken: with one recipient taking a flood (the
/// case the limit is for) those trips, each queued behind the SMTP sessions' work, were most of the time a slot was
/// held (issue 9). A runner gives its thread up after <see cref="Turn"/> deliveries and queues itself again behind the
/// other destinations' runners, so one busy recipient does not keep every delivery thread.
/// A lane exists while a runner has it, so destinations seen once do not stay in memory; its limit is the one given
/// when it was made (a reload applies to lanes made after it). A limit of 0 means none, as qmgr(8) reads it.
/// </remarks>
public sealed class DeliveryLanes
{
    /// <summary>Deliveries one runner makes before it lets the runners of other destinations go first.</summary>
    internal const int Turn = 32;

    private readonly Dictionary<string, Lane> _lanes = new(StringComparer.OrdinalIgnoreCase);
    private readonly Action<Action> _start;

    public DeliveryLanes() : this(FsIdentity.StartRunner)
    {
    }

    /// <param name="start">Starts a runner on a thread of its own (tests run them by hand).</param>
    internal DeliveryLanes(Action<Action> start) => _start = start;

    private sealed class Lane(int limit)
    {
        public readonly int Limit = limit;
        public readonly Queue<Action> Waiting = new();
        public int Runners;   // under the dictionary's lock
    }

    /// <summary>Lanes with a runner now.</summary>
    public int Count
    {
        get { lock (_lanes) return _lanes.Count; }
    }

    /// <summary>Runs <paramref name="work"/> on a delivery thread (as <see cref="FsIdentity.RunOnDedicatedThreadAsync{T}"/>
    /// does) once fewer than <paramref name="limit"/> deliveries to <paramref name="key"/> are under way; a delivery
    /// still waiting when <paramref name="ct"/> is cancelled does not start.</summary>
    public Task<T> RunAsync<T>(string key, int limit, Func<T> work, CancellationToken ct)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Delivery()
        {
            if (ct.IsCancellationRequested)
            {
                tcs.SetCanceled(ct);
                return;
            }
            try { tcs.SetResult(FsIdentity.AsWorkItem(work)); }
            catch (Exception e) { tcs.SetException(e); }
        }
        Lane lane;
        bool start = false;
        lock (_lanes)
        {
            if (!_lanes.TryGetValue(key, out lane!)) _lanes[key] = lane = new Lane(limit > 0 ? limit : int.MaxValue);
            lane.Waiting.Enqueue(Delivery);
            if (lane.Runners < lane.Limit)
            {
                lane.Runners++;
                start = true;
            }
        }
        if (start) _start(() => Run(key, lane));
        return tcs.Task;
    }

    /// <summary>A runner: the waiting deliveries of <paramref name="lane"/>, one after another.</summary>
    private void Run(string key, Lane lane)
    {
        for (int made = 0; ; made++)
        {
            Action next;
            lock (_lanes)
            {
                if (lane.Waiting.Count == 0)
                {
                    if (--lane.Runners == 0) _lanes.Remove(key);
                    return;
                }
                if (made == Turn) break;
                next = lane.Waiting.Dequeue();
            }
            next();
        }
        // Its turn is over: behind the runners that wait for a thread now, still counted as one of the lane's.
        _start(() => Run(key, lane));
    }
}

/// <summary>The lane a delivery waits its turn in: <see cref="DeliveryLanes.RunAsync{T}"/>'s key and limit.</summary>
public readonly record struct DeliveryLane(DeliveryLanes Lanes, string Key, int Limit);
