namespace Posthorn.Mail.Delivery;

/// <summary>Runs mailbox work (imapd, pop3d) with a user's filesystem identity, as Dovecot's imap process runs as
/// the user: every open, mkdir, rename and unlink of the work is checked as that user.</summary>
/// <remarks>
/// DESIGN.md decision 6. The work runs on a dedicated thread (never a thread-pool thread) that raises itself to its
/// saved root, switches its fsuid/fsgid and groups to the user (<see cref="FsIdentity.Become"/>), and runs the
/// asynchronous work under a single-thread synchronization context, so that every continuation of the work comes back
/// to the same switched thread; it switches back before it takes the next item. A file opened by the work may be read
/// later by any thread: the check happened at the open. Work must not use ConfigureAwait(false) before a file
/// operation (the Maildir store does not).
/// Work items never wait for one another except through locks whose holders are running items, so a full set of
/// busy threads delays but cannot deadlock. A daemon that never was root runs the work as itself.
/// </remarks>
public static class UserFileThreads
{
    private static readonly DedicatedThreads Threads = new("posthorn mailbox access", maxThreads: 32, idleTimeout: TimeSpan.FromSeconds(30));

    /// <summary>The identity the current thread's work runs with (set only while a work item runs on a file thread;
    /// per thread, so not shared state).</summary>
    [ThreadStatic]
    private static (uint Uid, uint Gid)? t_running;

    /// <summary>Runs <paramref name="work"/> as <paramref name="uid"/>/<paramref name="gid"/> and returns its result
    /// (or its exception). Called from work already running as that identity on a file thread (a store call inside a
    /// command's unit, <c>IMailAccount.RunAsync</c>), it runs in place: no second hop, and no wait for a free thread.</summary>
    public static Task<T> RunAsync<T>(uint uid, uint gid, Func<ValueTask<T>> work)
    {
        if (IsRunningAs(uid, gid)) return work().AsTask();
        return Threads.Run(() =>
        {
            var lowered = ThreadCredentials.RaiseToSavedRoot();
            try
            {
                using (FsIdentity.Become(uid, gid))
                {
                    t_running = (uid, gid);
                    try
                    {
                        return Pump(work);
                    }
                    finally
                    {
                        t_running = null;
                    }
                }
            }
            finally
            {
                if (lowered is { } to) ThreadCredentials.Lower(to);
            }
        });
    }

    /// <summary>Whether the calling code runs on a file thread as <paramref name="uid"/>/<paramref name="gid"/> (inside
    /// <see cref="RunAsync{T}"/>'s work, continuations included: they come back to the same thread).</summary>
    public static bool IsRunningAs(uint uid, uint gid) => t_running is { } r && r.Uid == uid && r.Gid == gid;

    /// <summary>Makes <paramref name="path"/> a directory of <paramref name="uid"/>/<paramref name="gid"/> with mode 0700
    /// (its parents as the daemon's own), so that work run as the user can keep files there. A symbolic link is never
    /// followed; a directory with another owner is handed to the user only by a daemon that can become root.</summary>
    /// <exception cref="IOException">the directory cannot be made or handed over.</exception>
    public static Task<bool> EnsureOwnedDirectoryAsync(string path, uint uid, uint gid) => Threads.Run(() =>
    {
        var lowered = ThreadCredentials.RaiseToSavedRoot();
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (LibC.mkdir(path, 0x1C0 /* 0700 */) != 0 && LibC.Errno != 17 /* EEXIST */)
                throw new IOException($"mkdir {path}: {LibC.StrError(LibC.Errno)}");
            int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0, out int errno);
            if (fd < 0) throw new IOException($"open {path}: {LibC.StrError(errno)}");
            try
            {
                if (!LibC.TryFstat(fd, out var st, out errno)) throw new IOException($"stat {path}: {LibC.StrError(errno)}");
                if ((st.Uid != uid || st.Gid != gid) && LibC.IsRoot && LibC.fchown(fd, uid, gid) != 0)
                    throw new IOException($"chown {path}: {LibC.StrError(LibC.Errno)}");
            }
            finally
            {
                LibC.close(fd);
            }
            return true;
        }
        finally
        {
            if (lowered is { } to) ThreadCredentials.Lower(to);
        }
    });

    /// <summary>Runs <paramref name="work"/> to its end on the calling thread, continuations included.</summary>
    private static T Pump<T>(Func<ValueTask<T>> work)
    {
        var previous = SynchronizationContext.Current;
        var context = new SingleThreadContext();
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            var task = work().AsTask();
            // Most commands finish without waiting for anything (a NOOP, a FETCH from the page cache): no pump then.
            if (!task.IsCompleted)
            {
                task.ContinueWith(_ => context.Complete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
                context.RunUntilComplete();
            }
            return task.GetAwaiter().GetResult();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    /// <summary>The continuations of one work item, run in order on its thread until the work has ended.</summary>
    /// <remarks>A lock and Monitor.Wait, not BlockingCollection, whose SemaphoreSlim spins with sched_yield(2) before it
    /// blocks: under IMAP load that was some sixty system calls per command (strace, issue 9).</remarks>
    private sealed class SingleThreadContext : SynchronizationContext
    {
        private readonly object _gate = new();   // not System.Threading.Lock: Monitor.Wait needs a monitor
        private readonly Queue<(SendOrPostCallback Callback, object? State)> _queue = new();
        private bool _complete;

        public override void Post(SendOrPostCallback d, object? state)
        {
            lock (_gate)
            {
                _queue.Enqueue((d, state));
                Monitor.Pulse(_gate);
            }
        }

        public override void Send(SendOrPostCallback d, object? state) =>
            throw new NotSupportedException("synchronous Send to a mailbox access thread");

        public void Complete()
        {
            lock (_gate)
            {
                _complete = true;
                Monitor.Pulse(_gate);
            }
        }

        public void RunUntilComplete()
        {
            while (true)
            {
                (SendOrPostCallback Callback, object? State) next;
                lock (_gate)
                {
                    while (_queue.Count == 0)
                    {
                        if (_complete) return;
                        Monitor.Wait(_gate);
                    }
                    next = _queue.Dequeue();
                }
                next.Callback(next.State);
            }
        }
    }
}
