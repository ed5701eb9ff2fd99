using System.Collections.Concurrent;

namespace Posthorn.Mail.Delivery;

/// <summary>A small set of long-lived dedicated threads that run work items in arrival order.</summary>
/// <remarks>
/// A thread is started when an item arrives and none is idle, up to <c>maxThreads</c>; a thread that
/// has been idle for <c>idleTimeout</c> ends. Work items must not wait for one another (a delivery
/// never does), so a full set of busy threads only delays the queue, never deadlocks it.
/// No item is stranded: a producer enqueues before it looks for an idle thread, and a thread that
/// timed out looks at the queue again after it stops counting itself idle.
/// </remarks>
internal sealed class DedicatedThreads(string name, int maxThreads, TimeSpan idleTimeout)
{
    private readonly BlockingCollection<Action> _work = new(new ConcurrentQueue<Action>());
    private int _threads;
    private int _idle;

    public Task<T> Run<T>(Func<T> work)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try { tcs.SetResult(work()); }
            catch (Exception e) { tcs.SetException(e); }
        });
        if (Volatile.Read(ref _idle) == 0)
        {
            if (Interlocked.Increment(ref _threads) <= maxThreads) Start();
            else Interlocked.Decrement(ref _threads);
        }
        return tcs.Task;
    }

    private void Start() => new Thread(Loop) { IsBackground = true, Name = name }.Start();

    private void Loop()
    {
        while (true)
        {
            Interlocked.Increment(ref _idle);
            bool got = _work.TryTake(out var item, idleTimeout);
            Interlocked.Decrement(ref _idle);
            if (got)
            {
                item!();
                continue;
            }
            if (_work.Count > 0) continue;   // arrived while this thread still counted as idle
            Interlocked.Decrement(ref _threads);
            return;
        }
    }
}
