namespace Posthorn.Store.Maildir;

/// <summary>The state of one Maildir folder shared by every session of the process that has it open:
/// the index rows in memory, kept in step with the directory and the SQLite index.</summary>
/// <remarks>
/// Every method runs under <see cref="Lock"/>. <see cref="Sync"/> notices other programs: another
/// process's index commit through <c>PRAGMA data_version</c>, and delivery or mutt through the
/// modification times of new/ and cur/ (a rescan then reconciles file names with the index).
/// <see cref="Version"/> grows with every change, so a session's view knows when to diff itself.
/// </remarks>
internal sealed partial class MaildirFolder : IDisposable
{
    private readonly Dictionary<string, Entry> _byBase = new(StringComparer.Ordinal);
    private readonly EntriesByUid _byUid = new();
    private readonly TimeProvider _clock;
    private MaildirIndex _index;
    private long _dataVersion = -1;
    private DateTime _newMtime, _curMtime;
    private MessageInfo[]? _snapshot;
    /// <summary>Entries made exact by <see cref="Learn"/> whose rows are not yet written.</summary>
    private readonly List<Entry> _learned = [];

    public MaildirFolder(string path, TimeProvider clock)
    {
        Path = path;
        _clock = clock;
        foreach (var sub in new[] { "tmp", "new", "cur" })
            Directory.CreateDirectory(System.IO.Path.Combine(path, sub));
        _index = MaildirIndex.OpenOrReset(path);
    }

    public string Path { get; }
    public SemaphoreSlim Lock { get; } = new(1, 1);
    public int References { get; set; }
    public long Version { get; private set; }
    public uint UidValidity { get; private set; }
    public uint UidNext { get; private set; } = 1;
    public ulong HighestModSeq { get; private set; } = 1;

    /// <summary>A file of the folder: its index record and where it is now (relative path).</summary>
    public sealed class Entry(MessageInfo info, string rel, string otherInfo)
    {
        public MessageInfo Info { get; set; } = info;
        public string Rel { get; set; } = rel;
        /// <summary>Info letters we keep but do not interpret.</summary>
        public string OtherInfo { get; set; } = otherInfo;
    }

    /// <summary>Every message, in UID order; the same array until something changes.</summary>
    public MessageInfo[] Snapshot => _snapshot ??= ToInfos(_byUid.Values);

    public Entry? ByUid(uint uid) => _byUid.Find(uid);

    public string FullPath(Entry e) => System.IO.Path.Combine(Path, e.Rel);

    /// <summary>Brings the folder up to date with the index and the files; with <paramref name="moveNew"/> false
    /// (a read-only session) files found in new/ stay there.</summary>
    public void Sync(bool moveNew = true)
    {
        // While rows committed aside are being written, the index is theirs and holds nothing else of this process:
        // another program's commit is noticed by the first Sync after them.
        if (!Aside) CheckIndex();
        var newM = Directory.GetLastWriteTimeUtc(System.IO.Path.Combine(Path, "new"));
        var curM = Directory.GetLastWriteTimeUtc(System.IO.Path.Combine(Path, "cur"));
        // After a reload the times are those the index was last reconciled at: unchanged directories need no listing.
        if (newM != _newMtime || curM != _curMtime)
        {
            _newMtime = newM;
            _curMtime = curM;
            Scan(moveNew);
            WriteAfterAside(index => index.WriteScanTimes(newM.Ticks, curM.Ticks));
        }
    }

    /// <summary>Settles the rows committed aside, then reloads if another process changed the index (or it is gone).</summary>
    private void CheckIndex()
    {
        Settle();
        long dv;
        try
        {
            dv = _index.DataVersion();
        }
        catch (Microsoft.Data.Sqlite.SqliteException e) when (!File.Exists(System.IO.Path.Combine(Path, MaildirIndex.FileName)) || MaildirIndex.IsDamage(e))
        {
            dv = -2;
        }
        bool reload = dv != _dataVersion || !File.Exists(System.IO.Path.Combine(Path, MaildirIndex.FileName));
        if (reload)
        {
            Reload();
            // Own commits do not change data_version; only a reload (perhaps onto a new index) needs it read again.
            _dataVersion = _index.DataVersion();
        }
    }

    private void Reload()
    {
        try
        {
            ReloadFromIndex();
        }
        catch (Microsoft.Data.Sqlite.SqliteException e) when (MaildirIndex.IsDamage(e))
        {
            // DESIGN.md decision 5: the files are the truth. A damaged index (truncated, overwritten) is
            // replaced by a new one, which the rescan fills from the files under a new UIDVALIDITY.
            _index.Dispose();
            MaildirIndex.Discard(Path);
            _index = new MaildirIndex(Path);
            ReloadFromIndex();
        }
    }

    private void ReloadFromIndex()
    {
        if (!File.Exists(System.IO.Path.Combine(Path, MaildirIndex.FileName)))
        {
            // The index was deleted under us: start a new one (the rescan rebuilds it from the files).
            _index.Dispose();
            _index = new MaildirIndex(Path);
        }
        _byBase.Clear();
        _byUid.Clear();
        _learned.Clear();
        var (validity, next, modseq) = _index.ReadMeta();
        if (validity == 0)
        {
            // RFC 9051 §2.3.1.1: a new UIDVALIDITY must be larger than any earlier one; the time in
            // seconds is what Dovecot uses too. An index lost while this process had it open gets at
            // least the old value + 1, also within the same second.
            validity = (uint)Math.Max(Math.Max(1, _clock.GetUtcNow().ToUnixTimeSeconds()), UidValidity + 1L);
            next = 1;
            modseq = 1;
            _index.Commit(validity, next, modseq, [], []);
        }
        UidValidity = validity;
        UidNext = next;
        HighestModSeq = modseq;
        var (newTicks, curTicks) = _index.ReadScanTimes();
        _newMtime = new DateTime(newTicks, DateTimeKind.Utc);
        _curMtime = new DateTime(curTicks, DateTimeKind.Utc);
        var twice = new List<uint>();
        foreach (var row in _index.ReadAll())
        {
            if (_byBase.ContainsKey(row.Base))
            {
                twice.Add(row.Uid);
                continue;
            }
            var info = new MessageInfo(row.Uid, row.Flags, SplitKeywords(row.Keywords), row.ModSeq, row.Size,
                DateTimeOffset.FromUnixTimeSeconds(row.InternalDate)) { Key = row.Base, Estimated = row.Estimated };
            string other = "";
            if (row.Rel.StartsWith("cur/", StringComparison.Ordinal)) MaildirName.FlagsOf(row.Rel.AsSpan(4), out other);
            var e = new Entry(info, row.Rel, other);
            _byBase[row.Base] = e;
            _byUid.Add(e);
        }
        if (twice.Count > 0)
        {
            // One file under two UIDs (see MaildirIndex): the later UID goes, as an expunge.
            NextModSeq();
            Persist([], twice);
        }
        Changed();
    }

    private static MessageInfo[] ToInfos(IReadOnlyList<Entry> entries)
    {
        var infos = new MessageInfo[entries.Count];
        for (int i = 0; i < infos.Length; i++) infos[i] = entries[i].Info;
        return infos;
    }

    private void Changed()
    {
        _snapshot = null;
        Version++;
    }

    internal static IReadOnlyList<string> SplitKeywords(string s) =>
        s.Length == 0 ? [] : s.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Gives the next modseq (RFC 7162 §3.1.1: strictly increasing within a mailbox).</summary>
    public ulong NextModSeq() => ++HighestModSeq;

    /// <summary>Persists the given entries (and removals) with the current meta values.</summary>
    public void Persist(IEnumerable<Entry> upserts, IEnumerable<uint> deletes)
    {
        // The rows are made as the commit binds them: a first scan's 100,000 would otherwise all be alive at once, and
        // every collection meanwhile would copy them.
        Index.Commit(UidValidity, UidNext, HighestModSeq, TakeLearned(upserts).Select(ToRow), deletes.ToList());
        _dataVersion = _index.DataVersion();
        Changed();
    }

    private static MaildirIndex.Row ToRow(Entry e) => new(e.Info.Uid, e.Info.Key, e.Rel, e.Info.Flags,
        string.Join(' ', e.Info.Keywords), e.Info.ModSeq, e.Info.Size, e.Info.InternalDate.ToUnixTimeSeconds(), e.Info.Estimated);

    /// <summary>Registers a file placed in cur/ by this process (APPEND, COPY, MOVE) with a new UID.</summary>
    public Entry Add(string baseName, string rel, MessageFlags flags, IReadOnlyList<string> keywords, long size, DateTimeOffset date)
    {
        var info = new MessageInfo(UidNext++, flags, keywords, NextModSeq(), size, date) { Key = baseName };
        var e = new Entry(info, rel, "");
        _byBase[baseName] = e;
        _byUid.Add(e);
        Persist([e], []);
        return e;
    }

    /// <summary>Cached values of <paramref name="field"/> for the messages, in their order; null where none is kept.</summary>
    public byte[]?[] ReadCache(string field, IReadOnlyList<MessageInfo> messages)
    {
        var result = new byte[]?[messages.Count];
        var uids = messages.Select(m => m.Uid).Where(_byUid.Contains).Order().ToList();
        var found = Index.ReadCache(field, uids);
        for (int i = 0; i < result.Length; i++) result[i] = found.GetValueOrDefault(messages[i].Uid);
        return result;
    }

    /// <summary>Keeps cached values of messages that are still in the folder.</summary>
    public void WriteCache(IReadOnlyList<(MessageInfo Message, string Field, byte[] Value)> values)
    {
        var kept = values.Where(v => _byUid.Contains(v.Message.Uid)).Select(v => (v.Field, v.Message.Uid, v.Value)).ToList();
        if (_learned.Count == 0)
        {
            Index.WriteCache(kept);
            return;
        }
        // Exact sizes learned by the read that computed these values: one transaction for both.
        Index.Commit(UidValidity, UidNext, HighestModSeq, TakeLearned([]).Select(ToRow).ToList(), [], kept);
        _dataVersion = _index.DataVersion();
    }

    /// <summary><paramref name="upserts"/> and the learned entries not among them; the learned list is emptied.</summary>
    private List<Entry> TakeLearned(IEnumerable<Entry> upserts)
    {
        var all = upserts.ToList();
        if (_learned.Count == 0) return all;
        var known = all.ToHashSet();
        foreach (var e in _learned)
            if (known.Add(e) && ReferenceEquals(_byUid.Find(e.Info.Uid), e)) all.Add(e);
        _learned.Clear();
        return all;
    }

    /// <summary>UIDs expunged after <paramref name="modSeq"/> (RFC 7162 §3.2.5.2), in UID order.</summary>
    public IReadOnlyList<uint> ExpungedSince(ulong modSeq) => Index.ReadExpungedSince(modSeq, _byUid.Contains);

    /// <summary>Drops entries whose files are gone (or were removed by this process).</summary>
    public void Remove(IReadOnlyList<Entry> entries)
    {
        foreach (var e in entries) _byBase.Remove(e.Info.Key);
        _byUid.RemoveAll(entries.Select(e => e.Info.Uid).ToHashSet());
        if (entries.Count > 0)
        {
            NextModSeq();
            Persist([], entries.Select(e => e.Info.Uid));
        }
    }

    public void Dispose()
    {
        try
        {
            Settle();
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException)
        {
            // The rows committed aside are lost: the next scan gives their files new UIDs.
        }
        _index.Dispose();
        Lock.Dispose();
    }
}
