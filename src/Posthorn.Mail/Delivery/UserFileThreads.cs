using System.Collections.Concurrent;

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

    /// <summary>Runs <paramref name="work"/> as <paramref name="uid"/>/<paramref name="gid"/> and returns its result
    /// (or its exception).</summary>
    public static Task<T> RunAsync<T>(uint uid, uint gid, Func<ValueTask<T>> work) => Threads.Run(() =>
    {
        var lowered = ThreadCredentials.RaiseToSavedRoot();
        try
        {
            using (FsIdentity.Become(uid, gid)) return Pump(work);
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
            task.ContinueWith(_ => context.Complete(), TaskScheduler.Default);
            context.RunUntilComplete();
            return task.GetAwaiter().GetResult();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    private sealed class SingleThreadContext : SynchronizationContext
    {
        private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = [];

        public override void Post(SendOrPostCallback d, object? state) => _queue.Add((d, state));

        public override void Send(SendOrPostCallback d, object? state) =>
            throw new NotSupportedException("synchronous Send to a mailbox access thread");

        public void Complete() => _queue.CompleteAdding();

        public void RunUntilComplete()
        {
            foreach (var (callback, state) in _queue.GetConsumingEnumerable()) callback(state);
        }
    }
}
