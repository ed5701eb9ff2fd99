namespace Posthorn.Store.Maildir;

/// <summary>A session's view of a Maildir folder: its own sequence numbers over the shared folder.</summary>
/// <remarks>RFC 9051 §7.5.1: the view changes only when the session allows it; expunges by others are
/// held back until a sync with allowExpunge.</remarks>
internal sealed class MaildirMailbox : IMailbox
{
    private readonly MaildirStore _store;
    private readonly MaildirAccount _account;
    private readonly MaildirFolder _folder;
    private readonly MailboxView _v = new();
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
    public uint UidValidity => _v.UidValidity;
    public uint UidNext { get; private set; }
    public ulong HighestModSeq { get; private set; }
    public IReadOnlyList<MessageInfo> Messages => _v.Items;

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
        return _v.Sync(_folder.UidValidity, _folder.Version, () => _folder.Snapshot, allowExpunge);
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
                int at = _v.IndexOfUid(m.Uid);
                if (at >= 0 && _v.Items[at].Estimated)
                    _v.Items[at] = _v.Items[at] with { Size = x.Size, InternalDate = x.InternalDate, Estimated = false };
            }
            return result;
        }, ct);
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
        var modified = new DateTime[messages.Count];
        string?[] paths = await PathsAsync(messages, sync: false, ct);
        var retry = new List<int>();
        MaildirFolder.ReadFiles(paths, result, modified, retry);
        if (retry.Count > 0)
        {
            // Renamed by mutt or another session between lookup and open: a sync finds where it went. One gone for good
            // (expunged by another program) stays null, as for an unknown UID.
            string?[] again = await PathsAsync(retry.Select(i => messages[i]).ToList(), sync: true, ct);
            var data = new byte[]?[retry.Count];
            var times = new DateTime[retry.Count];
            MaildirFolder.ReadFiles(again, data, times, []);
            for (int k = 0; k < retry.Count; k++) (result[retry[k]], modified[retry[k]]) = (data[k], times[k]);
        }
        await LearnAsync(messages, result, modified, ct);
        return result;
    }

    /// <summary>Estimated records among <paramref name="messages"/> made exact from the bytes just read (no second read
    /// when the same command wants RFC822.SIZE); the view takes them at the next <see cref="ResolveAsync"/>.</summary>
    private async ValueTask LearnAsync(IReadOnlyList<MessageInfo> messages, byte[]?[] data, DateTime[] modified, CancellationToken ct)
    {
        List<(uint, byte[], DateTime)>? read = null;
        for (int i = 0; i < messages.Count; i++)
            if (messages[i].Estimated && data[i] is { } bytes) (read ??= []).Add((messages[i].Uid, bytes, modified[i]));
        if (read is null) return;
        await _folder.Lock.WaitAsync(ct);
        try
        {
            _folder.Learn(read);
        }
        finally
        {
            _folder.Lock.Release();
        }
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
                if (_folder.ByUid(_v.Items[i].Uid) is not { } e) continue;
                var info = e.Info;
                var (newFlags, kw) = MailboxView.Apply(info, operation, flags, keywords);
                if (newFlags != info.Flags || !kw.SequenceEqual(info.Keywords))
                {
                    if (!_folder.RenameForFlags(e, newFlags)) continue;
                    e.Info = info with { Flags = newFlags, Keywords = kw, ModSeq = _folder.NextModSeq() };
                    changed.Add(e);
                }
                _v.Items[i] = e.Info;
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
            for (int i = _v.Items.Count - 1; i >= 0; i--)
            {
                uint uid = _v.Items[i].Uid;
                if (uids is not null && !uids.Contains(uid)) continue;
                var e = _folder.ByUid(uid);
                if (e is null || !e.Info.Flags.HasFlag(MessageFlags.Deleted)) continue;
                File.Delete(_folder.FullPath(e));
                gone.Add(e);
                seqs.Add(i + 1);
                _v.Items.RemoveAt(i);
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
            var entries = indexes.Select(i => _folder.ByUid(_v.Items[i].Uid)).OfType<MaildirFolder.Entry>().ToList();
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
                for (int i = _v.Items.Count - 1; i >= 0; i--)
                {
                    if (!moved.Contains(_v.Items[i].Uid)) continue;
                    if (_folder.ByUid(_v.Items[i].Uid) is { } e) gone.Add(e);
                    seqs.Add(i + 1);
                    _v.Items.RemoveAt(i);
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
