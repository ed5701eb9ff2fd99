using Posthorn.Store;

namespace Posthorn.Tests.Imap;

/// <summary>A store decorator that counts the store units a session opens (<see cref="IMailAccount.RunAsync{T}"/>) and
/// the store calls it makes outside one: under imapd each such call is one more hop to the user's file thread.</summary>
internal sealed class UnitCountingStore(IMailStore inner) : IMailStore
{
    private readonly AsyncLocal<bool> _inUnit = new();
    private int _units;
    private int _outside;

    public int Units => Volatile.Read(ref _units);

    /// <summary>Mailbox and account calls made outside a unit.</summary>
    public int Outside => Volatile.Read(ref _outside);

    public IMailAccount OpenAccount(string user, string maildir) => new Account(this, inner.OpenAccount(user, maildir));

    private T Count<T>(T value)
    {
        if (!_inUnit.Value) Interlocked.Increment(ref _outside);
        return value;
    }

    private sealed class Account(UnitCountingStore s, IMailAccount inner) : IMailAccount
    {
        public string User => inner.User;
        public IReadOnlyList<string> ListMailboxes() => s.Count(inner.ListMailboxes());
        public bool Exists(string name) => s.Count(inner.Exists(name));
        public StoreError? Create(string name) => s.Count(inner.Create(name));
        public StoreError? Delete(string name) => s.Count(inner.Delete(name));
        public StoreError? Rename(string from, string to) => s.Count(inner.Rename(from, to));
        public IReadOnlySet<string> Subscriptions() => s.Count(inner.Subscriptions());
        public void SetSubscribed(string name, bool subscribed) => s.Count(inner).SetSubscribed(name, subscribed);

        public async ValueTask<T> RunAsync<T>(Func<ValueTask<T>> work, CancellationToken ct)
        {
            Interlocked.Increment(ref s._units);
            s._inUnit.Value = true;
            return await work();
        }

        public async ValueTask<IMailbox?> OpenAsync(string name, bool readOnly, CancellationToken ct) =>
            await s.Count(inner).OpenAsync(name, readOnly, ct) is { } box ? new Mailbox(s, box) : null;

        public ValueTask<MailboxStatus?> StatusAsync(string name, CancellationToken ct) => s.Count(inner).StatusAsync(name, ct);

        public ValueTask<(AppendResult? Result, StoreError? Error)> AppendAsync(string name, ReadOnlyMemory<byte> message,
            MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset? internalDate, CancellationToken ct) =>
            s.Count(inner).AppendAsync(name, message, flags, keywords, internalDate, ct);
    }

    private sealed class Mailbox(UnitCountingStore s, IMailbox inner) : IMailbox
    {
        public string Name => inner.Name;
        public bool ReadOnly => inner.ReadOnly;
        public uint UidValidity => inner.UidValidity;
        public uint UidNext => inner.UidNext;
        public ulong HighestModSeq => inner.HighestModSeq;
        public IReadOnlyList<MessageInfo> Messages => inner.Messages;
        public ValueTask<MailboxChanges> SyncAsync(bool allowExpunge, CancellationToken ct) => s.Count(inner).SyncAsync(allowExpunge, ct);
        public ValueTask<IReadOnlyList<uint>> ExpungedSinceAsync(ulong modSeq, CancellationToken ct) => s.Count(inner).ExpungedSinceAsync(modSeq, ct);
        public ValueTask<IReadOnlyList<MessageInfo>> ResolveAsync(IReadOnlyList<MessageInfo> messages, CancellationToken ct) =>
            s.Count(inner).ResolveAsync(messages, ct);
        public ValueTask<byte[]?> ReadAsync(MessageInfo message, CancellationToken ct) => s.Count(inner).ReadAsync(message, ct);
        public ValueTask<IReadOnlyList<byte[]?>> ReadManyAsync(IReadOnlyList<MessageInfo> messages, CancellationToken ct) =>
            s.Count(inner).ReadManyAsync(messages, ct);
        public ValueTask<IReadOnlyList<byte[]?>> GetCachedAsync(IReadOnlyList<MessageInfo> messages, string field, CancellationToken ct) =>
            s.Count(inner).GetCachedAsync(messages, field, ct);
        public ValueTask SetCachedAsync(IReadOnlyList<(MessageInfo Message, string Field, byte[] Value)> values, CancellationToken ct) =>
            s.Count(inner).SetCachedAsync(values, ct);
        public ValueTask<IReadOnlyList<(int Index, MessageInfo Message)>> StoreFlagsAsync(IReadOnlyList<int> indexes,
            FlagOperation operation, MessageFlags flags, IReadOnlyList<string> keywords, CancellationToken ct) =>
            s.Count(inner).StoreFlagsAsync(indexes, operation, flags, keywords, ct);
        public ValueTask<IReadOnlyList<int>> ExpungeAsync(IReadOnlySet<uint>? uids, CancellationToken ct) => s.Count(inner).ExpungeAsync(uids, ct);
        public ValueTask<(CopyResult? Result, StoreError? Error)> CopyAsync(IReadOnlyList<int> indexes, string target, bool move,
            CancellationToken ct) => s.Count(inner).CopyAsync(indexes, target, move, ct);
        public ValueTask DisposeAsync() => s.Count(inner).DisposeAsync();
    }
}
