namespace Posthorn.Mail.Queue;

/// <summary>fsync(2) of one queue directory, counted: every name created, renamed or removed in it
/// before the fsync started is durable when it returns.</summary>
/// <remarks>New queue files share these fsyncs through <see cref="GroupCommit"/> (one per batch and
/// directory, DESIGN.md decision 3); qmgr's claim of a batch and postsuper's moves call it directly.</remarks>
internal sealed class DirectorySync(string directory, Action<string>? fsync = null)
{
    // The seam crash and batching tests use; production code always fsyncs through libc.
    private readonly Action<string> _fsync = fsync ?? Native.FsyncDirectory;
    private long _started;   // fsyncs begun; the n-th has the number n
    private long _covered;   // the highest number of an fsync that has returned without error

    private readonly object _shareGate = new();
    private bool _inFlight;   // a SyncShared caller is in fsync(2)
    private int _waiting;     // SyncShared callers waiting for it

    /// <summary>SyncShared callers waiting for another's fsync; tests use it.</summary>
    internal int WaitingCallers
    {
        get { lock (_shareGate) return _waiting; }
    }

    private const int SharedLimit = 4096;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, DirectorySync> SharedByPath = new();

    public string Directory { get; } = directory;

    /// <summary>The process-wide instance for <paramref name="path"/>, so that callers in any thread share its fsyncs
    /// (<see cref="SyncShared"/>). Bounded: past <see cref="SharedLimit"/> directories the table starts again.</summary>
    public static DirectorySync Shared(string path)
    {
        if (SharedByPath.TryGetValue(path, out var sync)) return sync;
        if (SharedByPath.Count >= SharedLimit) SharedByPath.Clear();
        return SharedByPath.GetOrAdd(path, p => new DirectorySync(p));
    }

    /// <summary>How many fsync(2) calls this directory has seen; tests use it to see batching.</summary>
    public long FsyncCount => Interlocked.Read(ref _started);

    /// <summary>Taken right after a change of a name in this directory: <see cref="Covers"/> tells when an fsync
    /// begun after the change has returned, so the change is durable.</summary>
    public long Ticket => Interlocked.Read(ref _started);

    /// <summary>Whether an fsync that began after <paramref name="ticket"/> was taken has completed.</summary>
    public bool Covers(long ticket) => Interlocked.Read(ref _covered) > ticket;

    /// <summary>Makes a name the caller has just created, renamed or removed here durable, sharing the fsync with
    /// callers that arrive meanwhile: while one fsync runs, the callers that come in wait, and one fsync after it
    /// serves them all (the group commit idea of DESIGN.md decision 3, for a Maildir's new/ that many deliveries
    /// rename into at once). Returns once an fsync that began after the call has succeeded.</summary>
    /// <exception cref="IOException">This caller's own fsync failed.</exception>
    public void SyncShared()
    {
        long ticket = Ticket;
        lock (_shareGate)
        {
            while (true)
            {
                if (Covers(ticket)) return;
                if (!_inFlight) break;
                _waiting++;
                Monitor.Wait(_shareGate);
                _waiting--;
            }
            _inFlight = true;
        }
        try
        {
            Sync();
        }
        finally
        {
            lock (_shareGate)
            {
                _inFlight = false;
                Monitor.PulseAll(_shareGate);
            }
        }
    }

    /// <summary>fsync(2) of the directory, on the calling thread.</summary>
    /// <exception cref="IOException">The directory could not be opened or synced.</exception>
    public void Sync()
    {
        long number = Interlocked.Increment(ref _started);
        _fsync(Directory);
        long seen;
        while ((seen = Interlocked.Read(ref _covered)) < number && Interlocked.CompareExchange(ref _covered, number, seen) != seen)
        {
        }
    }
}
