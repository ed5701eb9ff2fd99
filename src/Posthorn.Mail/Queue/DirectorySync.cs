namespace Posthorn.Mail.Queue;

/// <summary>Group commit of the directory fsync for one queue directory (DESIGN.md decision 3).</summary>
/// <remarks>
/// The rule: an fsync(2) of a directory makes durable every name change that happened in it
/// before the fsync <em>started</em>. So a caller whose rename is done either starts an fsync
/// now (when none is running), or joins the next batch, which starts as soon as the running one
/// ends. One fsync then serves every caller that renamed while the previous one was running;
/// under load the number of fsyncs per second is bounded by the disk, not by the sessions.
/// An fsync failure fails every caller of that batch (none of them may reply 250).
/// </remarks>
internal sealed class DirectorySync(string directory, Action<string>? fsync = null)
{
    // The seam crash and batching tests use; production code always fsyncs through libc.
    private readonly Action<string> _fsync = fsync ?? Native.FsyncDirectory;

    private readonly Lock _gate = new();
    private Task? _running;                      // the fsync in flight, if any
    private TaskCompletionSource? _next;         // callers waiting for the fsync after it
    private long _count;

    public string Directory { get; } = directory;

    /// <summary>How many fsync(2) calls this directory has seen; tests use it to see batching.</summary>
    public long FsyncCount => Interlocked.Read(ref _count);

    /// <summary>Completes once an fsync that started after this call has finished.</summary>
    public Task SyncAsync()
    {
        lock (_gate)
        {
            if (_running is null)
            {
                // No fsync in flight: one started now covers the caller's rename.
                _running = Start(null);
                return _running;
            }
            // An fsync is in flight, but it may have started before the caller's rename: wait for the next.
            _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _next.Task;
        }
    }

    /// <summary>A synchronous fsync, outside the batching (queue moves by qmgr and postsuper).</summary>
    public void Sync()
    {
        Interlocked.Increment(ref _count);
        _fsync(Directory);
    }

    // Always called under _gate. Task.Run never runs the body inline, so _running is assigned
    // before the body can take _gate to chain the next batch.
    private Task Start(TaskCompletionSource? batch) => Task.Run(() => RunFsync(batch));

    private void RunFsync(TaskCompletionSource? batch)
    {
        Exception? failure = null;
        try
        {
            Sync();
        }
        catch (Exception e)   // not swallowed: handed to every caller of this batch below
        {
            failure = e;
        }
        lock (_gate)
        {
            if (_next is { } waiting)
            {
                // Everyone who joined while this fsync ran gets a fresh one, started now.
                _next = null;
                _running = Start(waiting);
            }
            else
            {
                _running = null;
            }
        }
        if (batch is not null)
        {
            if (failure is null) batch.SetResult();
            else batch.SetException(failure);
        }
        else if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }
}
