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

    public string Directory { get; } = directory;

    /// <summary>How many fsync(2) calls this directory has seen; tests use it to see batching.</summary>
    public long FsyncCount => Interlocked.Read(ref _started);

    /// <summary>Taken right after a change of a name in this directory: <see cref="Covers"/> tells when an fsync
    /// begun after the change has returned, so the change is durable.</summary>
    public long Ticket => Interlocked.Read(ref _started);

    /// <summary>Whether an fsync that began after <paramref name="ticket"/> was taken has completed.</summary>
    public bool Covers(long ticket) => Interlocked.Read(ref _covered) > ticket;

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
