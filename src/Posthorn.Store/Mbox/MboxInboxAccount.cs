namespace Posthorn.Store.Mbox;

/// <summary>One user's mail with INBOX in an mbox (mail_spool_directory/USER) and every other mailbox
/// in the user's Maildir (Maildir++ folders), as Dovecot serves <c>mbox:~/mail:INBOX=/var/mail/%u</c>
/// except that the other folders stay Maildir.</summary>
/// <remarks>Everything but INBOX goes to the Maildir account; a COPY or MOVE from a Maildir folder
/// into INBOX is turned into an mbox APPEND here (the Maildir code would place it in the Maildir).</remarks>
internal sealed class MboxInboxAccount(MboxInboxStore store, IMailAccount maildir, string mboxPath, string indexFile,
    MboxLockOptions locking) : IMailAccount
{
    public string User => maildir.User;

    private static bool IsInbox(string name) => name.Equals("INBOX", StringComparison.OrdinalIgnoreCase);

    public IReadOnlyList<string> ListMailboxes() => maildir.ListMailboxes();

    public bool Exists(string name) => IsInbox(name) || maildir.Exists(name);

    public StoreError? Create(string name) => maildir.Create(name);

    public StoreError? Delete(string name) => maildir.Delete(name);

    public StoreError? Rename(string from, string to) => maildir.Rename(from, to);

    public IReadOnlySet<string> Subscriptions() => maildir.Subscriptions();

    public void SetSubscribed(string name, bool subscribed) => maildir.SetSubscribed(name, subscribed);

    public async ValueTask<IMailbox?> OpenAsync(string name, bool readOnly, CancellationToken ct)
    {
        if (!IsInbox(name))
            return await maildir.OpenAsync(name, readOnly, ct) is { } box ? new MaildirFolderBox(box, this) : null;
        var folder = store.Acquire(mboxPath, indexFile, locking);
        var inbox = new MboxMailbox(store, this, folder, readOnly);
        try
        {
            await inbox.SyncAsync(true, ct);
            return inbox;
        }
        catch
        {
            await inbox.DisposeAsync();
            throw;
        }
    }

    public async ValueTask<MailboxStatus?> StatusAsync(string name, CancellationToken ct)
    {
        if (!IsInbox(name)) return await maildir.StatusAsync(name, ct);
        return await store.WithFolderAsync(mboxPath, indexFile, locking, f =>
        {
            var all = f.Snapshot;
            return new MailboxStatus(all.Length, all.Count(m => !m.Flags.HasFlag(MessageFlags.Seen)), f.UidNext,
                f.UidValidity, f.HighestModSeq, all.Sum(m => m.Size));
        }, ct);
    }

    public async ValueTask<(AppendResult? Result, StoreError? Error)> AppendAsync(string name, ReadOnlyMemory<byte> message,
        MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset? internalDate, CancellationToken ct)
    {
        if (!IsInbox(name)) return await maildir.AppendAsync(name, message, flags, keywords, internalDate, ct);
        // Postfix local(8) creates a spool mbox owned by its user; as root we do not know that uid here, and a
        // file of ours would make every later delivery fail ("file has wrong owner"): leave creation to delivery.
        if (MboxNative.geteuid() == 0 && !File.Exists(mboxPath))
            return (null, new StoreError("CANNOT", "INBOX has no mailbox file yet; the first delivery creates it."));
        var date = internalDate ?? store.Clock.GetUtcNow();
        var result = await store.WithFolderAsync(mboxPath, indexFile, locking, f =>
        {
            var e = f.Append(message.Span, flags, keywords, date, ct);
            return new AppendResult(f.UidValidity, e.Info.Uid);
        }, ct);
        return (result, null);
    }

    /// <summary>UIDVALIDITY of a mailbox, for a COPYUID with no message copied.</summary>
    public async ValueTask<uint> UidValidityOfAsync(string name, CancellationToken ct) =>
        (await StatusAsync(name, ct))?.UidValidity ?? 0;

    /// <summary>A Maildir folder's view whose COPY/MOVE into INBOX appends to the mbox.</summary>
    private sealed class MaildirFolderBox(IMailbox inner, MboxInboxAccount account) : IMailbox
    {
        public string Name => inner.Name;
        public bool ReadOnly => inner.ReadOnly;
        public uint UidValidity => inner.UidValidity;
        public uint UidNext => inner.UidNext;
        public ulong HighestModSeq => inner.HighestModSeq;
        public IReadOnlyList<MessageInfo> Messages => inner.Messages;

        public ValueTask<MailboxChanges> SyncAsync(bool allowExpunge, CancellationToken ct) => inner.SyncAsync(allowExpunge, ct);

        public ValueTask<IReadOnlyList<uint>> ExpungedSinceAsync(ulong modSeq, CancellationToken ct) => inner.ExpungedSinceAsync(modSeq, ct);

        public ValueTask<byte[]?> ReadAsync(MessageInfo message, CancellationToken ct) => inner.ReadAsync(message, ct);

        public ValueTask<IReadOnlyList<(int Index, MessageInfo Message)>> StoreFlagsAsync(IReadOnlyList<int> indexes,
            FlagOperation operation, MessageFlags flags, IReadOnlyList<string> keywords, CancellationToken ct) =>
            inner.StoreFlagsAsync(indexes, operation, flags, keywords, ct);

        public ValueTask<IReadOnlyList<int>> ExpungeAsync(IReadOnlySet<uint>? uids, CancellationToken ct) => inner.ExpungeAsync(uids, ct);

        public async ValueTask<(CopyResult? Result, StoreError? Error)> CopyAsync(IReadOnlyList<int> indexes, string target,
            bool move, CancellationToken ct)
        {
            if (!IsInbox(target)) return await inner.CopyAsync(indexes, target, move, ct);
            var source = new List<uint>();
            var copies = new List<uint>();
            var copied = new List<int>();
            uint validity = await account.UidValidityOfAsync("INBOX", ct);
            foreach (int i in indexes)
            {
                var m = inner.Messages[i];
                if (await inner.ReadAsync(m, ct) is not { } data) continue;
                var (r, error) = await account.AppendAsync("INBOX", data, m.Flags & ~MessageFlags.Deleted, m.Keywords, m.InternalDate, ct);
                if (error is not null) return (null, error);
                validity = r!.UidValidity;
                source.Add(m.Uid);
                copies.Add(r.Uid);
                copied.Add(i);
            }
            IReadOnlyList<int> expunged = [];
            if (move && copied.Count > 0)
            {
                // RFC 6851 §3.3: moved messages leave the source (mark them \Deleted, expunge only those).
                await inner.StoreFlagsAsync(copied, FlagOperation.Add, MessageFlags.Deleted, [], ct);
                expunged = await inner.ExpungeAsync(source.ToHashSet(), ct);
            }
            return (new CopyResult(validity, source, copies, expunged), null);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
