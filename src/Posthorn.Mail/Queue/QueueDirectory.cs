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

    private readonly Dictionary<QueueName, DirectorySync> _syncs = [];

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
    /// DESIGN.md decision 3 allows (at least once).</remarks>
    public void Remove(QueueId id, QueueName from)
    {
        File.Delete(DeferLogPath(id));
        File.Delete(BounceLogPath(id));
        File.Delete(PathOf(from, id));
    }
}
