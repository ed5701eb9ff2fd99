using Microsoft.Win32.SafeHandles;

namespace Posthorn.Store.Mbox;

/// <summary>The state of one mbox INBOX shared by every session of the process that has it open:
/// its messages (file order, which is UID order), kept in step with the file and the index.</summary>
/// <remarks>
/// Every method runs under <see cref="Lock"/>. <see cref="Sync"/> notices other programs by the
/// file's inode, size and mtime: a file that only grew (delivery appended) has only its new tail
/// parsed; any other change (mutt or another reader rewrote it) is a full parse whose messages are
/// matched to the known ones by key, in order, so UIDs survive a rewrite. A new message found before
/// a known one cannot get a UID in order: then UIDVALIDITY changes (RFC 9051 §2.3.1.1), as in Dovecot.
/// Flags: the index keeps the IMAP flags and the flags last seen in the Status/X-Status headers;
/// headers that changed under us (mutt) win, other flag changes stay in the index until a rewrite
/// (<see cref="Rewrite"/> on EXPUNGE, CLOSE and LOGOUT) writes them into the file.
/// Security: the mbox is opened with O_NOFOLLOW and must be a regular file with one link.
/// </remarks>
internal sealed partial class MboxFolder : IDisposable
{
    private readonly List<Entry> _entries = [];
    private readonly Dictionary<uint, Entry> _byUid = [];
    private readonly TimeProvider _clock;
    private readonly MboxLockOptions _locking;
    private readonly string _indexFile;
    private MboxIndex _index;
    private SafeFileHandle? _fd;
    private ulong _inode;
    private long _size = -1;
    private long _mtime;
    private MessageInfo[]? _snapshot;

    public MboxFolder(string path, string indexFile, TimeProvider clock, MboxLockOptions locking)
    {
        Path = path;
        _indexFile = indexFile;
        _clock = clock;
        _locking = locking;
        _index = new MboxIndex(indexFile);
        Load();
    }

    public string Path { get; }
    public SemaphoreSlim Lock { get; } = new(1, 1);
    public int References { get; set; }
    public long Version { get; private set; }
    public uint UidValidity { get; private set; }
    public uint UidNext { get; private set; } = 1;
    public ulong HighestModSeq { get; private set; } = 1;

    /// <summary>Tests only: rewrite in place even where a temp file and rename(2) would be possible.</summary>
    internal bool ForceInPlace { get; set; }

    /// <summary>A message of the mbox: its index record, where it is in the file, its key, and the
    /// flags and keywords its headers had when last read or written.</summary>
    public sealed class Entry(MessageInfo info, long offset, long end, string key, MessageFlags fileFlags, bool old,
        IReadOnlyList<string> fileKeywords)
    {
        public MessageInfo Info { get; set; } = info;
        public long Offset { get; set; } = offset;
        public long End { get; set; } = end;
        public string Key { get; } = key;
        public MessageFlags FileFlags { get; set; } = fileFlags;
        public bool Old { get; set; } = old;
        public IReadOnlyList<string> FileKeywords { get; set; } = fileKeywords;

        /// <summary>Whether the index has a flag or keyword the file's headers do not show yet.</summary>
        public bool Dirty => Info.Flags != FileFlags || !MboxMessageFilter.SameKeywords(Info.Keywords, FileKeywords);
    }

    public MessageInfo[] Snapshot => _snapshot ??= _entries.Select(e => e.Info).ToArray();

    public Entry? ByUid(uint uid) => _byUid.GetValueOrDefault(uid);

    /// <summary>Whether some flag change is only in the index so far.</summary>
    public bool Dirty => _entries.Any(e => e.Dirty);

    private void Load()
    {
        if (!File.Exists(_indexFile))
        {
            _index.Dispose();
            _index = new MboxIndex(_indexFile);
        }
        var meta = _index.ReadMeta();
        _entries.Clear();
        _byUid.Clear();
        if (meta.UidValidity == 0)
        {
            // A new index: RFC 9051 §2.3.1.1 wants a new UIDVALIDITY larger than earlier ones; the time is what Dovecot uses.
            UidValidity = NewUidValidity(0);
            UidNext = 1;
            HighestModSeq = 1;
            _size = -1;
            Persist([], [], reset: true);
            return;
        }
        (UidValidity, UidNext, HighestModSeq) = (meta.UidValidity, meta.UidNext, meta.HighestModSeq);
        (_inode, _size, _mtime) = (meta.Inode, meta.FileSize, meta.Mtime);
        foreach (var r in _index.ReadAll())
        {
            var info = new MessageInfo(r.Uid, r.Flags, SplitKeywords(r.Keywords), r.ModSeq, r.Size,
                DateTimeOffset.FromUnixTimeSeconds(r.InternalDate)) { Key = r.Key };
            var e = new Entry(info, r.Offset, r.End, r.Key, r.FileFlags, r.Old, SplitKeywords(r.FileKeywords));
            _entries.Add(e);
            _byUid[r.Uid] = e;
        }
        Changed();
    }

    private uint NewUidValidity(uint previous) =>
        (uint)Math.Max(previous + 1L, Math.Max(1, _clock.GetUtcNow().ToUnixTimeSeconds()));

    private static IReadOnlyList<string> SplitKeywords(string s) =>
        s.Length == 0 ? [] : s.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private void Changed()
    {
        _snapshot = null;
        Version++;
    }

    /// <summary>Gives the next modseq (RFC 7162 §3.1.1: strictly increasing within a mailbox).</summary>
    public ulong NextModSeq() => ++HighestModSeq;

    /// <summary>Persists entries and removals with the current meta values.</summary>
    public void Persist(IEnumerable<Entry> upserts, IEnumerable<uint> deletes, bool reset = false)
    {
        _index.Commit(new MboxIndex.Meta(UidValidity, UidNext, HighestModSeq, _inode, _size, _mtime),
            upserts.Select(e => new MboxIndex.Row(e.Info.Uid, e.Key, e.Offset, e.End, e.Info.Flags, e.FileFlags, e.Old,
                string.Join(' ', e.Info.Keywords), string.Join(' ', e.FileKeywords), e.Info.ModSeq, e.Info.Size, e.Info.InternalDate.ToUnixTimeSeconds())).ToList(),
            deletes.ToList(), reset);
        Changed();
    }

    public IReadOnlyList<uint> ExpungedSince(ulong modSeq) => _index.ReadExpungedSince(modSeq);

    /// <summary>Sets the flags and keywords of a message in the index (the file follows at the next rewrite).</summary>
    public void SetFlags(Entry e, MessageFlags flags, IReadOnlyList<string> keywords)
    {
        e.Info = e.Info with { Flags = flags, Keywords = keywords, ModSeq = NextModSeq() };
        Persist([e], []);
    }

    public void Dispose()
    {
        _fd?.Dispose();
        _index.Dispose();
        Lock.Dispose();
    }
}
