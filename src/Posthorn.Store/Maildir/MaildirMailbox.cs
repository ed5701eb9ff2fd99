namespace Posthorn.Store.Maildir;

/// <summary>A session's view of a Maildir folder: its own sequence numbers over the shared folder.</summary>
/// <remarks>RFC 9051 §7.5.1: the view changes only when the session allows it; expunges by others are
/// held back until a sync with allowExpunge.</remarks>
internal sealed class MaildirMailbox : IMailbox
{
    private readonly MaildirStore _store;
    private readonly MaildirAccount _account;
    private readonly MaildirFolder _folder;
    private readonly List<MessageInfo> _view = [];
    private long _seenVersion = -1;
    private bool _disposed;

    public MaildirMailbox(MaildirStore store, MaildirAccount account, MaildirFolder folder, string name, bool readOnly)
    {
        _store = store;
        _account = account;
        _folder = folder;
        Name = name;
        ReadOnly = readOnly;
    }

    public string Name { get; }
    public bool ReadOnly { get; }
    public uint UidValidity { get; private set; }
    public uint UidNext { get; private set; }
    public ulong HighestModSeq { get; private set; }
    public IReadOnlyList<MessageInfo> Messages => _view;

    private async ValueTask<T> LockedAsync<T>(Func<T> action, CancellationToken ct)
    {
        await _folder.Lock.WaitAsync(ct);
        try
        {
            _folder.Sync(moveNew: !ReadOnly);
            return action();
        }
        finally
        {
            _folder.Lock.Release();
        }
    }

    public ValueTask<MailboxChanges> SyncAsync(bool allowExpunge, CancellationToken ct) => LockedAsync(() => Diff(allowExpunge), ct);

    private MailboxChanges Diff(bool allowExpunge)
    {
        UidNext = _folder.UidNext;
        HighestModSeq = _folder.HighestModSeq;
        if (UidValidity != _folder.UidValidity)
        {
            // The index was rebuilt: the old sequence numbers mean nothing any more (RFC 9051 §2.3.1.1).
            UidValidity = _folder.UidValidity;
            _view.Clear();
            _seenVersion = -1;
        }
        if (_folder.Version == _seenVersion) return new MailboxChanges([], _view.Count, false, []);
        var snap = _folder.Snapshot;
        if (_view.Count == 0)
        {
            // A new view (SELECT): the folder's records as they are, nothing to compare.
            _view.AddRange(snap);
            _seenVersion = _folder.Version;
            return new MailboxChanges([], _view.Count, _view.Count > 0, []);
        }
        int oldCount = _view.Count;
        var expunged = new List<int>();
        var expungedUids = new List<uint>();
        bool heldBack = false;
        // Both lists are in UID order: walk them together.
        var merged = new List<MessageInfo>(snap.Length);
        var changedUids = new HashSet<uint>();
        int j = 0;
        for (int i = 0; i < _view.Count; i++)
        {
            var v = _view[i];
            while (j < snap.Length && snap[j].Uid < v.Uid) j++;
            if (j < snap.Length && snap[j].Uid == v.Uid)
            {
                if (snap[j].ModSeq != v.ModSeq) changedUids.Add(v.Uid);
                merged.Add(snap[j]);
                j++;
            }
            else if (allowExpunge)
            {
                expunged.Add(i + 1);
                expungedUids.Add(v.Uid);
            }
            else
            {
                heldBack = true;
                merged.Add(v);
            }
        }
        uint lastUid = _view.Count > 0 ? _view[^1].Uid : 0;
        foreach (var m in snap)
            if (m.Uid > lastUid) merged.Add(m);
        // EXPUNGE responses go out highest first, so each number is still the one the client knows.
        expunged.Reverse();
        _view.Clear();
        _view.AddRange(merged);
        var flagsChanged = new List<int>();
        for (int i = 0; i < _view.Count; i++)
            if (changedUids.Contains(_view[i].Uid)) flagsChanged.Add(i);
        if (!heldBack) _seenVersion = _folder.Version;
        return new MailboxChanges(expunged, _view.Count, _view.Count != oldCount || expunged.Count > 0, flagsChanged)
        {
            ExpungedUids = expungedUids,
        };
    }

    /// <summary>Estimated records (a scan takes size and date from the file name) made exact, once per message; the
    /// view keeps its own flags and modseq and takes only the size and date. A message whose file is gone stays estimated.</summary>
    public ValueTask<IReadOnlyList<MessageInfo>> ResolveAsync(IReadOnlyList<MessageInfo> messages, CancellationToken ct)
    {
        bool any = false;
        for (int i = 0; i < messages.Count && !any; i++) any = messages[i].Estimated;
        if (!any) return ValueTask.FromResult(messages);
        return LockedAsync<IReadOnlyList<MessageInfo>>(() =>
        {
            var exact = _folder.Resolve(messages);
            var result = new MessageInfo[messages.Count];
            for (int i = 0; i < result.Length; i++)
            {
                var m = messages[i];
                if (!m.Estimated || exact[i] is not { } x)
                {
                    result[i] = m;
                    continue;
                }
                result[i] = m with { Size = x.Size, InternalDate = x.InternalDate, Estimated = false };
                int at = IndexOfUid(m.Uid);
                if (at >= 0 && _view[at].Estimated)
                    _view[at] = _view[at] with { Size = x.Size, InternalDate = x.InternalDate, Estimated = false };
            }
            return result;
        }, ct);
    }

    /// <summary>The view index of <paramref name="uid"/> (the view is in UID order), or -1.</summary>
    private int IndexOfUid(uint uid)
    {
        int lo = 0, hi = _view.Count - 1;
        while (lo <= hi)
        {
            int mid = lo + (hi - lo) / 2;
            uint u = _view[mid].Uid;
            if (u == uid) return mid;
            if (u < uid) lo = mid + 1;
            else hi = mid - 1;
        }
        return -1;
    }

    public ValueTask<IReadOnlyList<uint>> ExpungedSinceAsync(ulong modSeq, CancellationToken ct) =>
        LockedAsync(() => _folder.ExpungedSince(modSeq), ct);

    public async ValueTask<byte[]?> ReadAsync(MessageInfo message, CancellationToken ct) => (await ReadManyAsync([message], ct))[0];

    /// <summary>Looks the paths up under the lock without a directory sync (the files of the view are known), reads
    /// them outside it, and only for a file renamed meanwhile (mutt changing flags) syncs and looks again.
    /// The reads are synchronous: small files, and under imapd every continuation of an asynchronous read would be
    /// one more switch back to the user's file thread.</summary>
    public async ValueTask<IReadOnlyList<byte[]?>> ReadManyAsync(IReadOnlyList<MessageInfo> messages, CancellationToken ct)
    {
        var result = new byte[]?[messages.Count];
        string?[] paths = await PathsAsync(messages, sync: false, ct);
        List<int>? retry = null;
        for (int i = 0; i < paths.Length; i++)
        {
            if (paths[i] is not { } path) continue;
            try
            {
                result[i] = File.ReadAllBytes(path);
            }
            catch (FileNotFoundException)
            {
                (retry ??= []).Add(i);
            }
        }
        if (retry is null) return result;
        // Renamed by mutt or another session between lookup and open: a sync finds where it went.
        string?[] again = await PathsAsync(retry.Select(i => messages[i]).ToList(), sync: true, ct);
        for (int k = 0; k < retry.Count; k++)
        {
            if (again[k] is not { } path) continue;
            try
            {
                result[retry[k]] = File.ReadAllBytes(path);
            }
            catch (FileNotFoundException)
            {
                // Gone for good (expunged by another program): null, as for an unknown UID.
            }
        }
        return result;
    }

    private async ValueTask<string?[]> PathsAsync(IReadOnlyList<MessageInfo> messages, bool sync, CancellationToken ct)
    {
        await _folder.Lock.WaitAsync(ct);
        try
        {
            if (sync) _folder.Sync(moveNew: !ReadOnly);
            var paths = new string?[messages.Count];
            for (int i = 0; i < paths.Length; i++)
                paths[i] = _folder.ByUid(messages[i].Uid) is { } e ? _folder.FullPath(e) : null;
            return paths;
        }
        finally
        {
            _folder.Lock.Release();
        }
    }

    public async ValueTask<IReadOnlyList<byte[]?>> GetCachedAsync(IReadOnlyList<MessageInfo> messages, string field, CancellationToken ct)
    {
        await _folder.Lock.WaitAsync(ct);
        try
        {
            return _folder.ReadCache(field, messages);
        }
        finally
        {
            _folder.Lock.Release();
        }
    }

    public async ValueTask SetCachedAsync(IReadOnlyList<(MessageInfo Message, string Field, byte[] Value)> values, CancellationToken ct)
    {
        if (values.Count == 0) return;
        await _folder.Lock.WaitAsync(ct);
        try
        {
            _folder.WriteCache(values);
        }
        finally
        {
            _folder.Lock.Release();
        }
    }

    public ValueTask<IReadOnlyList<(int Index, MessageInfo Message)>> StoreFlagsAsync(IReadOnlyList<int> indexes,
        FlagOperation operation, MessageFlags flags, IReadOnlyList<string> keywords, CancellationToken ct) =>
        LockedAsync<IReadOnlyList<(int, MessageInfo)>>(() =>
        {
            var result = new List<(int, MessageInfo)>();
            var changed = new List<MaildirFolder.Entry>();
            foreach (int i in indexes)
            {
                if (_folder.ByUid(_view[i].Uid) is not { } e) continue;
                var info = e.Info;
                var newFlags = operation switch
                {
                    FlagOperation.Add => info.Flags | flags,
                    FlagOperation.Remove => info.Flags & ~flags,
                    _ => flags,
                };
                var kw = operation switch
                {
                    FlagOperation.Add => info.Keywords.Union(keywords, StringComparer.OrdinalIgnoreCase).ToList(),
                    FlagOperation.Remove => info.Keywords.Where(k => !keywords.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList(),
                    _ => keywords.Distinct(StringComparer.OrdinalIgnoreCase).ToList(),
                };
                if (newFlags != info.Flags || !kw.SequenceEqual(info.Keywords))
                {
                    if (!_folder.RenameForFlags(e, newFlags)) continue;
                    e.Info = info with { Flags = newFlags, Keywords = kw, ModSeq = _folder.NextModSeq() };
                    changed.Add(e);
                }
                _view[i] = e.Info;
                result.Add((i, e.Info));
            }
            if (changed.Count > 0) _folder.Persist(changed, []);
            HighestModSeq = _folder.HighestModSeq;
            return result;
        }, ct);

    public ValueTask<IReadOnlyList<int>> ExpungeAsync(IReadOnlySet<uint>? uids, CancellationToken ct) =>
        LockedAsync<IReadOnlyList<int>>(() =>
        {
            var gone = new List<MaildirFolder.Entry>();
            var seqs = new List<int>();
            for (int i = _view.Count - 1; i >= 0; i--)
            {
                uint uid = _view[i].Uid;
                if (uids is not null && !uids.Contains(uid)) continue;
                var e = _folder.ByUid(uid);
                if (e is null || !e.Info.Flags.HasFlag(MessageFlags.Deleted)) continue;
                File.Delete(_folder.FullPath(e));
                gone.Add(e);
                seqs.Add(i + 1);
                _view.RemoveAt(i);
            }
            _folder.Remove(gone);
            HighestModSeq = _folder.HighestModSeq;
            return seqs;
        }, ct);

    public async ValueTask<(CopyResult? Result, StoreError? Error)> CopyAsync(IReadOnlyList<int> indexes, string target,
        bool move, CancellationToken ct)
    {
        if (!_account.Exists(target) || !_account.TryGetPath(target, out var targetPath))
            return (null, new StoreError("TRYCREATE", $"Mailbox doesn't exist: {target}"));
        var sources = await LockedAsync(() =>
        {
            var entries = indexes.Select(i => _folder.ByUid(_view[i].Uid)).OfType<MaildirFolder.Entry>().ToList();
            // The copy keeps the exact size and INTERNALDATE (RFC 9051 §6.4.7), not the scan's estimates.
            _folder.Resolve(entries.Select(e => e.Info).ToList());
            return entries.Select(e => (e.Info, Path: _folder.FullPath(e))).ToList();
        }, ct);
        var pairs = await _store.WithFolderAsync(targetPath, f =>
        {
            var list = new List<(MessageInfo Source, uint NewUid)>();
            foreach (var (info, path) in sources)
            {
                var e = move
                    ? _account.Adopt(f, path, info)
                    : _account.Place(f, tmp => File.Copy(path, tmp), info.Flags, info.Keywords, info.InternalDate);
                if (e is not null) list.Add((info, e.Info.Uid));
            }
            return (f.UidValidity, list);
        }, ct);
        IReadOnlyList<int> expunged = [];
        if (move)
        {
            // RFC 6851 §3.3: the moved messages are expunged from the source, announced with EXPUNGE.
            var moved = pairs.list.Select(p => p.Source.Uid).ToHashSet();
            expunged = await LockedAsync<IReadOnlyList<int>>(() =>
            {
                var gone = new List<MaildirFolder.Entry>();
                var seqs = new List<int>();
                for (int i = _view.Count - 1; i >= 0; i--)
                {
                    if (!moved.Contains(_view[i].Uid)) continue;
                    if (_folder.ByUid(_view[i].Uid) is { } e) gone.Add(e);
                    seqs.Add(i + 1);
                    _view.RemoveAt(i);
                }
                _folder.Remove(gone);
                return seqs;
            }, ct);
        }
        return (new CopyResult(pairs.UidValidity, pairs.list.Select(p => p.Source.Uid).ToList(),
            pairs.list.Select(p => p.NewUid).ToList(), expunged), null);
    }

    public ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            _store.Release(_folder);
        }
        return ValueTask.CompletedTask;
    }
}
