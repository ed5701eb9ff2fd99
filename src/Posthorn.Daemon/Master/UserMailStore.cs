using Posthorn.Mail.Auth;
using Posthorn.Mail.Delivery;
using Posthorn.Store;

namespace Posthorn.Daemon.Master;

/// <summary>The mailbox store as imapd and pop3d use it: every operation on a user's mail runs with that user's
/// filesystem identity (<see cref="UserFileThreads"/>), so a Maildir that local delivery wrote as the user (mode 0700,
/// files 0600) is read, flagged and expunged by its owner, never by mail_owner.</summary>
/// <remarks>
/// DESIGN.md decision 6; Dovecot runs each imap process as the user (mail_uid/mail_gid from the userdb). The uid and gid
/// come from the user database (passwd-file fields 3 and 4, or the system account); a user without them (a
/// passwd-file that leaves them empty) is served with the daemon's own identity.
/// </remarks>
public sealed class UserMailStore(IMailStore inner, IPasswordDatabase users) : IMailStore
{
    public IMailAccount OpenAccount(string user, string maildir)
    {
        var found = users.FindAsync(user, CancellationToken.None).AsTask().GetAwaiter().GetResult().User;
        if (found is not { Uid: { } uid, Gid: { } gid }) return inner.OpenAccount(user, maildir);
        var identity = new Identity((uint)uid, (uint)gid);
        if (PrivateDirectoryOf?.Invoke(user) is { } own)
            UserFileThreads.EnsureOwnedDirectoryAsync(own, (uint)uid, (uint)gid).GetAwaiter().GetResult();
        return new Account(identity.Run(() => inner.OpenAccount(user, maildir)), identity);
    }

    /// <summary>A directory the store keeps for the user outside the user's own files (the mbox INBOX index under
    /// data_directory); it is made the user's (mode 0700) before the account opens. Null: none.</summary>
    public Func<string, string?>? PrivateDirectoryOf { get; init; }

    private sealed record Identity(uint Uid, uint Gid)
    {
        /// <summary>Runs <paramref name="work"/> on a file thread as the user; in place when already there (inside a
        /// command's unit, <see cref="Account.RunAsync{T}"/>).</summary>
        public Task<T> RunAsync<T>(Func<ValueTask<T>> work) => UserFileThreads.RunAsync(Uid, Gid, work);

        public async ValueTask RunAsync(Func<ValueTask> work) =>
            await UserFileThreads.RunAsync(Uid, Gid, async () => { await work(); return true; });

        /// <summary>A short synchronous operation (a directory listing, a mkdir): the caller waits for it.</summary>
        public T Run<T>(Func<T> work) => RunAsync(() => ValueTask.FromResult(work())).GetAwaiter().GetResult();
    }

    private sealed class Account(IMailAccount inner, Identity identity) : IMailAccount
    {
        public string User => inner.User;
        public IReadOnlyList<string> ListMailboxes() => identity.Run(inner.ListMailboxes);
        public bool Exists(string name) => identity.Run(() => inner.Exists(name));
        public StoreError? Create(string name) => identity.Run(() => inner.Create(name));
        public StoreError? Delete(string name) => identity.Run(() => inner.Delete(name));
        public StoreError? Rename(string from, string to) => identity.Run(() => inner.Rename(from, to));
        public IReadOnlySet<string> Subscriptions() => identity.Run(inner.Subscriptions);
        public void SetSubscribed(string name, bool subscribed) => identity.Run(() => { inner.SetSubscribed(name, subscribed); return true; });

        /// <summary>A whole IMAP command's store work in one hop: the wrappers' calls inside it find themselves on the
        /// user's file thread and run in place.</summary>
        public async ValueTask<T> RunAsync<T>(Func<ValueTask<T>> work, CancellationToken ct) => await identity.RunAsync(work);

        public async ValueTask<IMailbox?> OpenAsync(string name, bool readOnly, CancellationToken ct) =>
            await identity.RunAsync(() => inner.OpenAsync(name, readOnly, ct)) is { } box ? new Mailbox(box, identity) : null;

        public async ValueTask<MailboxStatus?> StatusAsync(string name, CancellationToken ct) =>
            await identity.RunAsync(() => inner.StatusAsync(name, ct));

        public async ValueTask<(AppendResult? Result, StoreError? Error)> AppendAsync(string name, ReadOnlyMemory<byte> message,
            MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset? internalDate, CancellationToken ct) =>
            await identity.RunAsync(() => inner.AppendAsync(name, message, flags, keywords, internalDate, ct));
    }

    private sealed class Mailbox(IMailbox inner, Identity identity) : IMailbox
    {
        public string Name => inner.Name;
        public bool ReadOnly => inner.ReadOnly;
        public uint UidValidity => inner.UidValidity;
        public uint UidNext => inner.UidNext;
        public ulong HighestModSeq => inner.HighestModSeq;
        public IReadOnlyList<MessageInfo> Messages => inner.Messages;

        public async ValueTask<MailboxChanges> SyncAsync(bool allowExpunge, CancellationToken ct) =>
            await identity.RunAsync(() => inner.SyncAsync(allowExpunge, ct));

        public async ValueTask<IReadOnlyList<uint>> ExpungedSinceAsync(ulong modSeq, CancellationToken ct) =>
            await identity.RunAsync(() => inner.ExpungedSinceAsync(modSeq, ct));

        public async ValueTask<IReadOnlyList<MessageInfo>> ResolveAsync(IReadOnlyList<MessageInfo> messages, CancellationToken ct) =>
            messages.Any(m => m.Estimated) ? await identity.RunAsync(() => inner.ResolveAsync(messages, ct)) : messages;

        public async ValueTask<byte[]?> ReadAsync(MessageInfo message, CancellationToken ct) =>
            await identity.RunAsync(() => inner.ReadAsync(message, ct));

        public async ValueTask<IReadOnlyList<byte[]?>> ReadManyAsync(IReadOnlyList<MessageInfo> messages, CancellationToken ct) =>
            await identity.RunAsync(() => inner.ReadManyAsync(messages, ct));

        public async ValueTask<IReadOnlyList<byte[]?>> GetCachedAsync(IReadOnlyList<MessageInfo> messages, string field, CancellationToken ct) =>
            await identity.RunAsync(() => inner.GetCachedAsync(messages, field, ct));

        public ValueTask SetCachedAsync(IReadOnlyList<(MessageInfo Message, string Field, byte[] Value)> values, CancellationToken ct) =>
            identity.RunAsync(() => inner.SetCachedAsync(values, ct));

        public async ValueTask<IReadOnlyList<(int Index, MessageInfo Message)>> StoreFlagsAsync(IReadOnlyList<int> indexes,
            FlagOperation operation, MessageFlags flags, IReadOnlyList<string> keywords, CancellationToken ct) =>
            await identity.RunAsync(() => inner.StoreFlagsAsync(indexes, operation, flags, keywords, ct));

        public async ValueTask<IReadOnlyList<int>> ExpungeAsync(IReadOnlySet<uint>? uids, CancellationToken ct) =>
            await identity.RunAsync(() => inner.ExpungeAsync(uids, ct));

        public async ValueTask<(CopyResult? Result, StoreError? Error)> CopyAsync(IReadOnlyList<int> indexes, string target, bool move,
            CancellationToken ct) =>
            await identity.RunAsync(() => inner.CopyAsync(indexes, target, move, ct));

        public ValueTask DisposeAsync() => identity.RunAsync(inner.DisposeAsync);
    }
}
