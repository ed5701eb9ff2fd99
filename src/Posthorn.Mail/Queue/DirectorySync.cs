namespace Posthorn.Mail.Queue;

/// <summary>fsync(2) of one queue directory, counted: every name created, renamed or removed in it
/// before the fsync started is durable when it returns.</summary>
/// <remarks>New queue files share these fsyncs through <see cref="GroupCommit"/> (one per batch and
/// directory, DESIGN.md decision 3); qmgr's claim of a batch and postsuper's moves call it directly.</remarks>
internal sealed class DirectorySync(string directory, Action<string>? fsync = null)
{
    // The seam crash and batching tests use; production code always fsyncs through libc.
    private readonly Action<string> _fsync = fsync ?? Native.FsyncDirectory;
    private long _count;

    public string Directory { get; } = directory;

    /// <summary>How many fsync(2) calls this directory has seen; tests use it to see batching.</summary>
    public long FsyncCount => Interlocked.Read(ref _count);

    /// <summary>fsync(2) of the directory, on the calling thread.</summary>
    /// <exception cref="IOException">The directory could not be opened or synced.</exception>
    public void Sync()
    {
        Interlocked.Increment(ref _count);
        _fsync(Directory);
    }
}
