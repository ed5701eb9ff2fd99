namespace Posthorn.Store.Mbox;

/// <summary>A session's view of the mbox INBOX: its own sequence numbers over the shared folder.</summary>
/// <remarks>RFC 9051 §7.5.1: the view changes only when the session allows it; expunges by others are
/// held back until a sync with allowExpunge. Closing the view (CLOSE, UNSELECT, SELECT of another
/// mailbox, LOGOUT, POP3 QUIT) writes flag changes back into the mbox (Dovecot does the same at its
/// mbox syncs), so that mutt sees them.</remarks>
internal sealed class MboxMailbox(MboxInboxStore store, MboxInboxAccount account, MboxFolder folder, bool readOnly) : IMailbox
{
    private readonly MailboxView _v = new();
    private bool _disposed;

    public string Name => "INBOX";
    public bool ReadOnly { get; } = readOnly;
    public uint UidValidity => _v.UidValidity;
    public uint UidNext { get; private set; }
    public ulong HighestModSeq { get; private set; }
    public IReadOnlyList<MessageInfo> Messages => _v.Items;

    private ValueTask<T> LockedAsync<T>(Func<T> action, CancellationToken ct) => store.WithFolderAsync(folder, action, ct);

    public ValueTask<MailboxChanges> SyncAsync(bool allowExpunge, CancellationToken ct) => LockedAsync(() => Diff(allowExpunge), ct);

    private MailboxChanges Diff(bool allowExpunge)
    {
        UidNext = folder.UidNext;
        HighestModSeq = folder.HighestModSeq;
        // A new UIDVALIDITY here means the mbox could not be matched to the index.
        return _v.Sync(folder.UidValidity, folder.Version, () => folder.Snapshot, allowExpunge);
    }

    public ValueTask<IReadOnlyList<uint>> ExpungedSinceAsync(ulong modSeq, CancellationToken ct) =>
        LockedAsync(() => folder.ExpungedSince(modSeq), ct);

    public ValueTask<byte[]?> ReadAsync(MessageInfo message, CancellationToken ct) =>
        LockedAsync(() => folder.ByUid(message.Uid) is { } e ? folder.Read(e, ct) : null, ct);

    public ValueTask<IReadOnlyList<(int Index, MessageInfo Message)>> StoreFlagsAsync(IReadOnlyList<int> indexes,
        FlagOperation operation, MessageFlags flags, IReadOnlyList<string> keywords, CancellationToken ct) =>
        LockedAsync<IReadOnlyList<(int, MessageInfo)>>(() =>
        {
            var result = new List<(int, MessageInfo)>();
            foreach (int i in indexes)
            {
                if (folder.ByUid(_v.Items[i].Uid) is not { } e) continue;
                var info = e.Info;
                var (newFlags, kw) = MailboxView.Apply(info, operation, flags, keywords);
                if (newFlags != info.Flags || !kw.SequenceEqual(info.Keywords)) folder.SetFlags(e, newFlags, kw);
                _v.Items[i] = e.Info;
                result.Add((i, e.Info));
            }
            HighestModSeq = folder.HighestModSeq;
            return result;
        }, ct);

    public ValueTask<IReadOnlyList<int>> ExpungeAsync(IReadOnlySet<uint>? uids, CancellationToken ct) =>
        LockedAsync<IReadOnlyList<int>>(() => Expunge(uids, ct), ct);

    /// <summary>Rewrites the mbox without the view's \Deleted messages (under the folder's lock).</summary>
    private List<int> Expunge(IReadOnlySet<uint>? uids, CancellationToken ct)
    {
        var remove = new HashSet<uint>();
        foreach (var m in _v.Items)
        {
            if (uids is not null && !uids.Contains(m.Uid)) continue;
            if (folder.ByUid(m.Uid) is { } e && e.Info.Flags.HasFlag(MessageFlags.Deleted)) remove.Add(m.Uid);
        }
        if (remove.Count == 0) return [];
        folder.Rewrite(remove, ct);
        var seqs = new List<int>();
        for (int i = _v.Items.Count - 1; i >= 0; i--)
        {
            if (!remove.Contains(_v.Items[i].Uid) || folder.ByUid(_v.Items[i].Uid) is not null) continue;
            seqs.Add(i + 1);
            _v.Items.RemoveAt(i);
        }
        HighestModSeq = folder.HighestModSeq;
        return seqs;
    }

    public async ValueTask<(CopyResult? Result, StoreError? Error)> CopyAsync(IReadOnlyList<int> indexes, string target,
        bool move, CancellationToken ct)
    {
        if (!account.Exists(target)) return (null, new StoreError("TRYCREATE", $"Mailbox doesn't exist: {target}"));
        var sources = indexes.Select(i => _v.Items[i]).ToList();
        var source = new List<uint>();
        var copies = new List<uint>();
        uint validity = 0;
        foreach (var m in sources)
        {
            var data = await ReadAsync(m, ct);
            if (data is null) continue;
            var (r, error) = await account.AppendAsync(target, data, m.Flags & ~MessageFlags.Deleted, m.Keywords, m.InternalDate, ct);
            if (error is not null) return (null, error);
            validity = r!.UidValidity;
            source.Add(m.Uid);
            copies.Add(r.Uid);
        }
        IReadOnlyList<int> expunged = [];
        if (move && source.Count > 0)
        {
            // RFC 6851 §3.3: the moved messages are expunged from the source, announced with EXPUNGE.
            var moved = source.ToHashSet();
            expunged = await LockedAsync<IReadOnlyList<int>>(() =>
            {
                foreach (uint uid in moved)
                    if (folder.ByUid(uid) is { } e) folder.SetFlags(e, e.Info.Flags | MessageFlags.Deleted, e.Info.Keywords);
                return Expunge(moved, ct);
            }, ct);
        }
        if (validity == 0) validity = await account.UidValidityOfAsync(target, ct);
        return (new CopyResult(validity, source, copies, expunged), null);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            if (!ReadOnly)
                await LockedAsync(() =>
                {
                    if (folder.Dirty) folder.Rewrite(new HashSet<uint>(), CancellationToken.None);
                    return 0;
                }, CancellationToken.None);
        }
        finally
        {
            store.Release(folder);
        }
    }
}
