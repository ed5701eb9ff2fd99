using Posthorn.Core;

namespace Posthorn.Mail.Queue;

/// <summary>The queue directory: Postfix's queue subdirectories, one file per message (DESIGN.md decision 4).</summary>
/// <remarks>
/// Layout under <see cref="Root"/> (<c>queue_directory</c>):
/// <c>maildrop incoming active deferred hold corrupt</c> hold message files named by queue ID;
/// <c>defer</c> and <c>bounce</c> hold the per-message logs of the same name; <c>tmp</c> holds
/// files being written, on the same file system, so that publishing one is a rename(2).
/// DEVIATION: Postfix hashes <c>deferred</c> and <c>defer</c> into subdirectories
/// (hash_queue_names); Posthorn keeps every queue flat.
/// One process should share one instance per root: the group commit of new queue files
/// (<see cref="QueueFileWriter.CommitAsync"/>, <see cref="GroupCommit"/>) is batched per instance.
/// Security: the root and its subdirectories belong to mail_owner; message files are mode 0600.
/// Parameters: queue_directory.
/// </remarks>
public sealed class QueueDirectory
{
    internal const string TempDirectoryName = "tmp";
    internal const string DeferDirectoryName = "defer";
    internal const string BounceDirectoryName = "bounce";
    private const string SpentSuffix = ".spent";
    private const int SpentCapacity = 512;

    private readonly Dictionary<QueueName, DirectorySync> _syncs = [];
    private readonly Lock _spentGate = new();
    private Queue<SpentFile>? _spent;   // null: removed message files are deleted

    /// <summary>A removed message file kept in tmp/ for a new message: usable once the directory it left has been
    /// synced after the removal (<see cref="DirectorySync.Covers"/>).</summary>
    private readonly record struct SpentFile(string Path, DirectorySync LeftFrom, long Ticket);

    public QueueDirectory(string root)
    {
        Root = Path.GetFullPath(root);
        foreach (var q in QueueNames.All) _syncs[q] = new DirectorySync(Path.Combine(Root, q.DirectoryName()));
    }

    /// <summary>A queue whose new files are published by <paramref name="commits"/> (tests inject failing syncs).</summary>
    internal QueueDirectory(string root, GroupCommit commits) : this(root) => Commits = commits;

    public string Root { get; }

    internal string TempDirectory => Path.Combine(Root, TempDirectoryName);

    internal DirectorySync SyncOf(QueueName q) => _syncs[q];

    /// <summary>The group commit that publishes new queue files (<see cref="QueueFileWriter.CommitAsync"/>).</summary>
    internal GroupCommit Commits { get; } = new();

    /// <summary>Creates the root and every queue subdirectory that is missing (mode 0700).</summary>
    public void EnsureCreated()
    {
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(Root, mode);
        foreach (var q in QueueNames.All) Directory.CreateDirectory(Path.Combine(Root, q.DirectoryName()), mode);
        foreach (var name in (string[])[DeferDirectoryName, BounceDirectoryName, TempDirectoryName])
            Directory.CreateDirectory(Path.Combine(Root, name), mode);
    }

    /// <summary>From now on <see cref="Remove"/> keeps up to <see cref="SpentCapacity"/> removed message files
    /// in tmp/, and <see cref="QueueFileWriter.Create"/> writes new messages into them. Only for the one process
    /// that holds the queue's lock (the daemon); leftovers of an earlier run are deleted here.</summary>
    /// <remarks>Why: creating an inode and freeing another per message was the largest kernel cost of
    /// delivery (ext4 searches its inode bitmap, and without a journal skips every inode freed in the last
    /// 30 s to 5 min). A reused file costs a rename instead.
    /// Safety: a spent file is handed out only after an fsync of the queue it left that began after it left,
    /// so no crash can bring back its old queue name over new content. Postfix has no such pool.</remarks>
    public void RecycleSpentFiles()
    {
        foreach (var stale in Directory.EnumerateFiles(TempDirectory, "*" + SpentSuffix))
            File.Delete(stale);
        lock (_spentGate) _spent ??= new Queue<SpentFile>();
    }

    /// <summary>A spent file ready for new content, or null (none, or none durable out of its queue yet).</summary>
    internal string? TakeSpentFile()
    {
        lock (_spentGate)
        {
            if (_spent is null || !_spent.TryPeek(out var head) || !head.LeftFrom.Covers(head.Ticket)) return null;
            return _spent.Dequeue().Path;
        }
    }

    /// <summary>Moves a removed message file into the pool; false when the pool is off or full (delete it).</summary>
    /// <remarks>Only files of active/: the daemon itself wrote them (incoming/ is filled by its cleanup). A maildrop
    /// file belongs to the user who posted it and must never carry another message.</remarks>
    private bool TryKeepSpent(QueueId id, QueueName from)
    {
        if (from != QueueName.Active) return false;
        lock (_spentGate)
        {
            if (_spent is null || _spent.Count >= SpentCapacity) return false;
        }
        string spentPath = Path.Combine(TempDirectory, id.Value + SpentSuffix);
        try
        {
            Native.RenameNoReplace(PathOf(from, id), spentPath);
        }
        catch (IOException)
        {
            return false;   // gone already, or a spent file of that name: the caller deletes
        }
        var sync = _syncs[from];
        lock (_spentGate) _spent!.Enqueue(new SpentFile(spentPath, sync, sync.Ticket));
        return true;
    }

    public string PathOf(QueueName q, QueueId id) => Path.Combine(Root, q.DirectoryName(), id.Value);

    internal string DeferLogPath(QueueId id) => Path.Combine(Root, DeferDirectoryName, id.Value);

    internal string BounceLogPath(QueueId id) => Path.Combine(Root, BounceDirectoryName, id.Value);

    /// <summary>The queue IDs in one queue, sorted; names that are not queue IDs are skipped.</summary>
    public IEnumerable<QueueId> List(QueueName q)
    {
        string dir = Path.Combine(Root, q.DirectoryName());
        if (!Directory.Exists(dir)) return [];
        var ids = new List<QueueId>();
        foreach (var path in Directory.EnumerateFiles(dir))
        {
            string name = Path.GetFileName(path);
            if (QueueId.IsValid(name)) ids.Add(new QueueId(name));
        }
        ids.Sort((a, b) => string.CompareOrdinal(a.Value, b.Value));
        return ids;
    }

    /// <summary>Finds the queue that holds <paramref name="id"/>, looking in <see cref="QueueNames.All"/> order.</summary>
    public bool TryFind(QueueId id, out QueueName where)
    {
        foreach (var q in QueueNames.All)
        {
            if (File.Exists(PathOf(q, id))) { where = q; return true; }
        }
        where = default;
        return false;
    }

    /// <summary>Moves a message file from one queue to another: rename(2), then fsync of the target directory.</summary>
    /// <remarks>rename(2) is atomic: after a crash the file is in one queue or the other, never
    /// in neither. The fsync makes the new name durable before the caller acts on it (for
    /// example before qmgr delivers from <c>active</c>). Like Postfix, an existing file of the
    /// same name in the target queue is replaced.</remarks>
    /// <exception cref="FileNotFoundException">The message is not in <paramref name="from"/>.</exception>
    public void Move(QueueId id, QueueName from, QueueName to)
    {
        if (from == to) return;
        File.Move(PathOf(from, id), PathOf(to, id), overwrite: true);   // rename(2)
        _syncs[to].Sync();                                               // directory entry durable
    }

    /// <summary>The rename(2) half of <see cref="Move"/>: for a caller that moves several files into
    /// <paramref name="to"/> and then makes them durable together with one <see cref="SyncQueue"/>
    /// before acting on any of them (qmgr's claim of a batch of incoming messages).</summary>
    /// <exception cref="FileNotFoundException">The message is not in <paramref name="from"/>.</exception>
    public void MoveUnsynced(QueueId id, QueueName from, QueueName to)
    {
        if (from == to) return;
        File.Move(PathOf(from, id), PathOf(to, id), overwrite: true);   // rename(2)
    }

    /// <summary>fsync(2) of one queue directory: every rename into it made so far is durable.</summary>
    /// <exception cref="IOException">The fsync failed.</exception>
    public void SyncQueue(QueueName q) => _syncs[q].Sync();

    /// <summary>Removes a message file and its defer and bounce logs; a missing file is not an error.</summary>
    /// <remarks>The logs go first, as in Postfix postsuper, so no log outlives its message. No
    /// directory fsync: if a crash undoes the unlink, the message is delivered again, which
    /// DESIGN.md decision 3 allows (at least once). With <see cref="RecycleSpentFiles"/> on, the file is renamed
    /// into the pool instead of deleted.</remarks>
    /// <param name="logs">false when the caller knows no defer or bounce log of the message exists.</param>
    public void Remove(QueueId id, QueueName from, bool logs = true)
    {
        if (logs)
        {
            Native.DeleteIfPresent(DeferLogPath(id));
            Native.DeleteIfPresent(BounceLogPath(id));
        }
        if (!TryKeepSpent(id, from)) Native.DeleteIfPresent(PathOf(from, id));
    }
}
