using Microsoft.Win32.SafeHandles;

namespace Posthorn.Mail.Queue;

/// <summary>Group commit of new queue files (DESIGN.md decision 3): the files that writers finish while
/// one batch is being made durable are made durable together by the next batch.</summary>
/// <remarks>
/// One batch, on one dedicated thread (never the thread pool: fsync(2) blocks for a journal commit, and a
/// thread pool blocked in fsync stalls every session on a small machine):
/// <list type="number">
/// <item>writeback of every file starts (sync_file_range(2) SYNC_FILE_RANGE_WRITE), so that the blocks of
/// all of them are allocated before the first journal commit (skipped for a batch of one);</item>
/// <item>fsync(2) of each file: its data is durable before any queue name points to it. On a journaling
/// file system the first fsync commits the transaction that carries every file's metadata, so the others
/// mostly wait for their own I/O;</item>
/// <item>rename(2) of each into its queue, never replacing a file (RENAME_NOREPLACE);</item>
/// <item>one fsync(2) per target directory (<see cref="DirectorySync"/>): the new names are durable.</item>
/// </list>
/// Only then is each waiter released, so a 250 still comes only after its own file and name are on stable
/// storage (RFC 5321 §6.1: the server "MUST NOT lose the message for frivolous reasons, such as because the
/// host later crashes"). A failure fails exactly the waiters it concerns: a file whose fsync or rename
/// failed, and every file renamed into a directory whose fsync failed (those files stay in the queue and
/// may be delivered: at least once). Callers turn the failure into 451 4.3.0, as Postfix's cleanup(8)
/// reports a queue file write error. Batches run one after the other; callers that arrive while one
/// runs form the next, so under load the number of journal commits per second is bounded by the disk,
/// not by the sessions. The thread ends after a few idle seconds and starts again on demand.
/// </remarks>
internal sealed class GroupCommit(Action<SafeFileHandle>? fsync = null, Action<string, string>? rename = null)
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(10);

    // Seams for the batching tests; production code always goes through libc.
    private readonly Action<SafeFileHandle> _fsync = fsync ?? RandomAccess.FlushToDisk;
    private readonly Action<string, string> _rename = rename ?? Native.RenameNoReplace;
    private readonly bool _writeback = fsync is null;

    private readonly object _gate = new();
    private List<Request> _pending = [];
    private bool _threadRunning;
    private long _batches;

    /// <summary>How many batches have run; tests use it to see several requests share one.</summary>
    public long BatchCount => Interlocked.Read(ref _batches);

    /// <summary>One finished file waiting to be published.</summary>
    internal sealed class Request(SafeFileHandle file, string tempPath, string targetPath, DirectorySync directory)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public SafeFileHandle File { get; } = file;
        public string TempPath { get; } = tempPath;
        public string TargetPath { get; } = targetPath;
        public DirectorySync Directory { get; } = directory;

        /// <summary>Completes once the file and its name are durable; faults with the I/O error otherwise.</summary>
        public Task Done => _done.Task;

        /// <summary>Whether the file was renamed into its queue (also when the directory fsync then failed).
        /// Meaningful once <see cref="Done"/> has completed.</summary>
        public bool Renamed { get; internal set; }

        internal Exception? Failure { get; set; }

        internal void Complete()
        {
            if (Failure is null) _done.SetResult();
            else _done.SetException(Failure);
        }
    }

    /// <summary>Queues <paramref name="request"/> for the next batch; returns <see cref="Request.Done"/>.</summary>
    /// <remarks>The file must stay open, and its temporary name unused, until <see cref="Request.Done"/> completes.</remarks>
    public Task CommitAsync(Request request)
    {
        lock (_gate)
        {
            _pending.Add(request);
            if (_threadRunning)
            {
                Monitor.Pulse(_gate);
            }
            else
            {
                _threadRunning = true;
                new Thread(Loop) { IsBackground = true, Name = "posthorn queue commit" }.Start();
            }
        }
        return request.Done;
    }

    private void Loop()
    {
        while (true)
        {
            List<Request> batch;
            lock (_gate)
            {
                while (_pending.Count == 0)
                {
                    if (!Monitor.Wait(_gate, IdleTimeout) && _pending.Count == 0)
                    {
                        _threadRunning = false;
                        return;
                    }
                }
                batch = _pending;
                _pending = [];
            }
            Run(batch);
        }
    }

    private void Run(List<Request> batch)
    {
        Interlocked.Increment(ref _batches);
        // 1. Start every file's writeback, so that one journal commit carries all their allocations (a file alone
        // gains nothing: its fsync starts the same writeback).
        if (_writeback && batch.Count > 1)
            foreach (var r in batch) Attempt(r, () => Native.StartWriteback(r.File));
        // 2. Data durable before a name points to it.
        foreach (var r in batch)
            Attempt(r, () => _fsync(r.File));
        // 3. Publish: atomic, never replacing an existing file.
        foreach (var r in batch)
        {
            if (r.Failure is not null) continue;
            Attempt(r, () =>
            {
                _rename(r.TempPath, r.TargetPath);
                r.Renamed = true;
            });
        }
        // 4. One directory fsync per queue serves every name renamed into it above.
        foreach (var group in batch.Where(r => r.Failure is null).GroupBy(r => r.Directory))
        {
            try
            {
                group.Key.Sync();
            }
            catch (Exception e)   // not swallowed: every file of this directory fails with it
            {
                foreach (var r in group) r.Failure = e;
            }
        }
        foreach (var r in batch) r.Complete();
    }

    private static void Attempt(Request r, Action step)
    {
        try
        {
            step();
        }
        catch (Exception e)   // not swallowed: this request's waiter gets it
        {
            r.Failure = e;
        }
    }
}
