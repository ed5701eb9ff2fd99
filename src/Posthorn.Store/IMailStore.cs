namespace Posthorn.Store;

/// <summary>The mailbox store behind imapd and pop3d: opens one user's mail.</summary>
/// <remarks>
/// DESIGN.md decision 5: the mail files stay the source of truth and the index beside them can be
/// rebuilt. The default implementation is <see cref="Maildir.MaildirStore"/>; a shared engine
/// (database metadata, object-store bodies) would be a second implementation of these interfaces.
/// One store instance serves every session of the process, so that sessions on the same mailbox
/// share one view of it.
/// </remarks>
public interface IMailStore
{
    /// <summary>Opens the mail of the user whose Maildir is <paramref name="maildir"/>.</summary>
    IMailAccount OpenAccount(string user, string maildir);
}

/// <summary>One user's mailboxes. Mailbox names are IMAP names (modified UTF-7 as the client sent
/// them), "." is the hierarchy delimiter and "INBOX" is case-insensitive.</summary>
public interface IMailAccount
{
    string User { get; }

    /// <summary>Every mailbox, INBOX first.</summary>
    IReadOnlyList<string> ListMailboxes();

    bool Exists(string name);

    /// <summary>Creates a mailbox (and its missing parents); null on success, else the reason.</summary>
    StoreError? Create(string name);

    StoreError? Delete(string name);

    StoreError? Rename(string from, string to);

    IReadOnlySet<string> Subscriptions();

    void SetSubscribed(string name, bool subscribed);

    /// <summary>Runs one protocol command's store work as one unit: a store that does its file work elsewhere (the
    /// daemon's per-user file threads) runs all of <paramref name="work"/> there, so that the command's store calls cost
    /// one switch, not one each. <paramref name="work"/> must not wait for the network. The default runs it in place.</summary>
    ValueTask<T> RunAsync<T>(Func<ValueTask<T>> work, CancellationToken ct) => work();

    /// <summary>Opens a session's view of a mailbox, synchronized once; null if it does not exist.</summary>
    ValueTask<IMailbox?> OpenAsync(string name, bool readOnly, CancellationToken ct);

    /// <summary>Counts of a mailbox without keeping it open; null if it does not exist.</summary>
    ValueTask<MailboxStatus?> StatusAsync(string name, CancellationToken ct);

    /// <summary>Adds a message (RFC 9051 §6.3.12); returns its UIDVALIDITY and UID, or an error.</summary>
    ValueTask<(AppendResult? Result, StoreError? Error)> AppendAsync(string name, ReadOnlyMemory<byte> message,
        MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset? internalDate, CancellationToken ct);
}

/// <summary>A session's view of one mailbox. Sequence numbers are positions (1-based) in
/// <see cref="Messages"/>; the view changes only inside <see cref="SyncAsync"/>, <see cref="ExpungeAsync"/>
/// and the session's own operations, so that the session decides when other sessions' changes show.</summary>
public interface IMailbox : IAsyncDisposable
{
    string Name { get; }
    bool ReadOnly { get; }
    uint UidValidity { get; }
    uint UidNext { get; }
    ulong HighestModSeq { get; }

    /// <summary>The view: index i holds sequence number i + 1.</summary>
    IReadOnlyList<MessageInfo> Messages { get; }

    /// <summary>Brings other sessions' and other programs' changes into the view. With
    /// <paramref name="allowExpunge"/> false, expunged messages stay in the view (RFC 9051 §7.5.1).</summary>
    ValueTask<MailboxChanges> SyncAsync(bool allowExpunge, CancellationToken ct);

    /// <summary>UIDs of this mailbox expunged with a mod-sequence above <paramref name="modSeq"/>, ascending
    /// (RFC 7162 §3.2.5.2 VANISHED (EARLIER)). A store that forgets old expunges answers a question from before what it
    /// remembers with a superset: UIDs that are not in the mailbox (the client removes only UIDs it has).</summary>
    ValueTask<IReadOnlyList<uint>> ExpungedSinceAsync(ulong modSeq, CancellationToken ct);

    /// <summary>The records of <paramref name="messages"/> with exact <see cref="MessageInfo.Size"/> and
    /// <see cref="MessageInfo.InternalDate"/> where they were <see cref="MessageInfo.Estimated"/>, in the order given
    /// (the view takes them too). A store that never estimates returns them as they are.</summary>
    ValueTask<IReadOnlyList<MessageInfo>> ResolveAsync(IReadOnlyList<MessageInfo> messages, CancellationToken ct) =>
        ValueTask.FromResult(messages);

    /// <summary>The message as stored (lines may end in LF only); null if it is gone.</summary>
    ValueTask<byte[]?> ReadAsync(MessageInfo message, CancellationToken ct);

    /// <summary>Several messages in one store operation (one hop to the user's file thread, one lock), in the
    /// order given; null for a message that is gone.</summary>
    async ValueTask<IReadOnlyList<byte[]?>> ReadManyAsync(IReadOnlyList<MessageInfo> messages, CancellationToken ct)
    {
        var result = new byte[]?[messages.Count];
        for (int i = 0; i < result.Length; i++) result[i] = await ReadAsync(messages[i], ct);
        return result;
    }

    /// <summary>Parse results the protocol layer cached for these messages under <paramref name="field"/>
    /// (for IMAP: ENVELOPE, BODYSTRUCTURE, the header block), in the order given; null where none is kept.
    /// A store without a cache keeps none.</summary>
    ValueTask<IReadOnlyList<byte[]?>> GetCachedAsync(IReadOnlyList<MessageInfo> messages, string field, CancellationToken ct) =>
        ValueTask.FromResult<IReadOnlyList<byte[]?>>(new byte[]?[messages.Count]);

    /// <summary>Keeps parse results for <see cref="GetCachedAsync"/>; they live as long as the message's UID.</summary>
    ValueTask SetCachedAsync(IReadOnlyList<(MessageInfo Message, string Field, byte[] Value)> values, CancellationToken ct) =>
        ValueTask.CompletedTask;

    /// <summary>Changes flags of the messages at the given view indexes; returns their new records
    /// (the view is updated so that a later sync does not report them again).</summary>
    ValueTask<IReadOnlyList<(int Index, MessageInfo Message)>> StoreFlagsAsync(IReadOnlyList<int> indexes,
        FlagOperation operation, MessageFlags flags, IReadOnlyList<string> keywords, CancellationToken ct);

    /// <summary>Removes \Deleted messages (only those with UIDs in <paramref name="uids"/> when given);
    /// returns the sequence numbers to announce, in the order EXPUNGE responses are sent.</summary>
    ValueTask<IReadOnlyList<int>> ExpungeAsync(IReadOnlySet<uint>? uids, CancellationToken ct);

    /// <summary>Copies (or, with <paramref name="move"/>, moves) messages to another mailbox of the account;
    /// returns the target UIDVALIDITY and the UID pairs (RFC 4315 COPYUID).</summary>
    ValueTask<(CopyResult? Result, StoreError? Error)> CopyAsync(IReadOnlyList<int> indexes, string target, bool move,
        CancellationToken ct);
}

/// <summary>IMAP system flags, as kept in Maildir file names (D F R S T).</summary>
[Flags]
public enum MessageFlags
{
    None = 0,
    Seen = 1,
    Answered = 2,
    Flagged = 4,
    Deleted = 8,
    Draft = 16,
}

public enum FlagOperation { Replace, Add, Remove }

/// <summary>One message as the index knows it; immutable, replaced when anything changes.</summary>
public sealed record MessageInfo(uint Uid, MessageFlags Flags, IReadOnlyList<string> Keywords, ulong ModSeq,
    long Size, DateTimeOffset InternalDate)
{
    /// <summary>Store-private locator (the Maildir base name).</summary>
    public string Key { get; init; } = "";

    /// <summary>True when <see cref="Size"/> and <see cref="InternalDate"/> are estimates (from a Maildir file name, so that
    /// opening a mailbox opens no message file): <see cref="IMailbox.ResolveAsync"/> gives the exact values, which
    /// RFC822.SIZE, INTERNALDATE and the SEARCH keys on them need. Estimates only order and bound batch work.</summary>
    public bool Estimated { get; init; }
}

/// <summary>What <see cref="IMailbox.SyncAsync"/> found: the sequence numbers of expunged messages
/// (in announcement order), the new count, and the indexes whose flags changed.</summary>
public sealed record MailboxChanges(IReadOnlyList<int> Expunged, int Exists, bool CountChanged, IReadOnlyList<int> FlagsChanged)
{
    /// <summary>The UIDs of the expunged messages (ascending), for VANISHED (RFC 7162 §3.2.10).</summary>
    public IReadOnlyList<uint> ExpungedUids { get; init; } = [];

    public bool IsEmpty => Expunged.Count == 0 && !CountChanged && FlagsChanged.Count == 0;
}

public sealed record MailboxStatus(int Messages, int Unseen, uint UidNext, uint UidValidity, ulong HighestModSeq, long Size);

public sealed record AppendResult(uint UidValidity, uint Uid);

/// <summary>COPYUID data; for a move also the source sequence numbers to announce as EXPUNGE.</summary>
public sealed record CopyResult(uint UidValidity, IReadOnlyList<uint> SourceUids, IReadOnlyList<uint> TargetUids,
    IReadOnlyList<int> Expunged);

/// <summary>Why a store operation was refused; <see cref="Code"/> is an IMAP response code (RFC 5530).</summary>
public sealed record StoreError(string Code, string Text)
{
    public static StoreError NonExistent(string name) => new("NONEXISTENT", $"Mailbox doesn't exist: {name}");
    public static StoreError AlreadyExists(string name) => new("ALREADYEXISTS", $"Mailbox already exists: {name}");
    public static StoreError BadName(string name) => new("CANNOT", $"Invalid mailbox name: {name}");
    public static StoreError Failed(string text) => new("SERVERBUG", text);
}
