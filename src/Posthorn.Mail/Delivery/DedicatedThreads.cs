namespace Posthorn.Mail.Delivery;

/// <summary>A small set of long-lived dedicated threads that run work items in arrival order.</summary>
/// <remarks>
/// A thread is started when an item arrives and none is idle, up to <c>maxThreads</c>; a thread that
/// has been idle for <c>idleTimeout</c> ends. Work items must not wait for one another (a delivery
/// never does), so a full set of busy threads only delays the queue, never deadlocks it.
/// No item is stranded: a thread looks at the queue under the lock before it waits and before it ends,
/// and a wake-up that found no waiter only delays an item until a busy thread comes back for more.
/// </remarks>
internal sealed class DedicatedThreads(string name, int maxThreads, TimeSpan idleTimeout)
{
    // A lock and Monitor.Wait, not BlockingCollection: its SemaphoreSlim spins with sched_yield(2) before it
    // blocks, and on a two-core machine under load that spinning took a tenth of the CPU (perf, issue 9).
    private readonly object _gate = new();   // not System.Threading.Lock: Monitor.Wait needs a monitor
    private readonly Queue<Action> _work = new();
    private int _threads;
    private int _idle;   // threads in Monitor.Wait, counted until they hold the lock again

    /// <summary>Threads alive now (running an item or waiting for one).</summary>
    public int ThreadCount
    {
        get { lock (_gate) return _threads; }
    }

    public Task<T> Run<T>(Func<T> work)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Item()
        {
            try { tcs.SetResult(work()); }
            catch (Exception e) { tcs.SetException(e); }
        }
        bool start = false;
        lock (_gate)
        {
            _work.Enqueue(Item);
            // A waiter per queued item when there are enough; otherwise a new thread, up to the limit.
            if (_work.Count <= _idle) Monitor.Pulse(_gate);
            else if (_threads < maxThreads) { _threads++; start = true; }
            else if (_idle > 0) Monitor.Pulse(_gate);
        }
        if (start) new Thread(Loop) { IsBackground = true, Name = name }.Start();
        return tcs.Task;
    }

    private void Loop()
    {
        while (true)
        {
            Action item;
            lock (_gate)
            {
                while (_work.Count == 0)
                {
                    _idle++;
                    bool woken = Monitor.Wait(_gate, idleTimeout);
                    _idle--;
                    if (!woken && _work.Count == 0)
                    {
                        _threads--;
                        return;
                    }
                }
                item = _work.Dequeue();
            }
            item();
        }
    }
}
