using System.Globalization;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace Posthorn.Mua;

/// <summary>An IMAP folder (INBOX first, any other with <see cref="OpenFolder"/>) as a <see cref="Mailbox"/>, through MailKit's ImapClient: the index from one
/// FETCH of the envelopes, a message fetched when it is opened, deletions committed as
/// <c>UID STORE +FLAGS.SILENT (\Deleted)</c> and an expunge of those UIDs only.</summary>
/// <remarks>
/// Standards: RFC 9051 / RFC 3501 (IMAP4rev2/rev1), RFC 4315 (UIDPLUS: UID EXPUNGE removes only our
/// messages; without it a plain EXPUNGE also removes what another client marked), RFC 5092 (imap URL).
/// Security: imaps verifies the server certificate (MailKit's default); imap uses STARTTLS when the
/// server offers it; the password is never logged.
/// </remarks>
public sealed class ImapMailbox : Mailbox, IDisposable
{
    private const MessageSummaryItems Items = MessageSummaryItems.UniqueId | MessageSummaryItems.Envelope
        | MessageSummaryItems.Flags | MessageSummaryItems.Size | MessageSummaryItems.InternalDate | MessageSummaryItems.References;

    private readonly ImapClient _client;
    private IMailFolder _inbox;
    private readonly ImapUrl _url;
    private readonly string _password;
    private readonly ImapTrust _trust;
    private readonly Dictionary<MailboxEntry, UniqueId> _uids = [];
    private (Action Changed, Action<string> Failed)? _watch;
    private ImapWatcher? _watcher;

    private ImapMailbox(ImapClient client, IMailFolder inbox, ImapUrl url, string password, ImapTrust trust)
    {
        _client = client;
        _inbox = inbox;
        _url = url;
        _password = password;
        _trust = trust;
    }

    /// <summary>Connects, logs in and opens INBOX read-write. The server certificate is checked by
    /// <paramref name="trust"/> (the system's trust store by default).</summary>
    /// <exception cref="IOException">the server cannot be reached.</exception>
    /// <exception cref="AuthenticationException">the login was refused.</exception>
    /// <exception cref="SslHandshakeException">TLS failed; <see cref="ImapTrust.Problem"/> says why when it was the certificate.</exception>
    public static ImapMailbox Open(ImapUrl url, string password, ImapTrust? trust = null, CancellationToken ct = default)
    {
        trust ??= new ImapTrust();
        var client = new ImapClient { Timeout = 60_000, ServerCertificateValidationCallback = trust.Check };
        try
        {
            client.Connect(url.Host, url.Port, url.Tls, ct);
            client.Authenticate(url.User, password, ct);
            client.Inbox.Open(FolderAccess.ReadWrite, ct);
            var box = new ImapMailbox(client, client.Inbox, url, password, trust) { Path = url.ToString() };
            box.Fetch();
            return box;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Watches the open folder on a second connection (IDLE, RFC 2177) and calls <paramref name="changed"/>
    /// from another thread when the message count changes; <paramref name="failed"/> when watching stops.
    /// After <see cref="OpenFolder"/> the new folder is watched.</summary>
    public IDisposable Watch(Action changed, Action<string> failed)
    {
        _watch = (changed, failed);
        _watcher = ImapWatcher.Start(_url, _password, _trust, _inbox.FullName, _inbox.Count, changed, failed);
        return new WatchStop(this);
    }

    private sealed class WatchStop(ImapMailbox box) : IDisposable
    {
        public void Dispose()
        {
            box._watch = null;
            box._watcher?.Dispose();
            box._watcher = null;
        }
    }

    /// <summary>The folder names LIST returns (RFC 9051 §6.3.9), INBOX first.</summary>
    public IReadOnlyList<string> FolderNames()
    {
        var names = new List<string> { "INBOX" };
        foreach (var ns in _client.PersonalNamespaces)
            foreach (var f in _client.GetFolders(ns, false, CancellationToken.None))
                if (!f.IsNamespace && !f.Attributes.HasFlag(FolderAttributes.NonExistent) && !f.Attributes.HasFlag(FolderAttributes.NoSelect)
                    && !names.Contains(f.FullName, StringComparer.OrdinalIgnoreCase))
                    names.Add(f.FullName);
        return names;
    }

    /// <summary>mutt's change-folder over IMAP: closes the open folder (deletion marks are committed by
    /// the caller first) and opens <paramref name="name"/> ("+NAME" and "=NAME" mean NAME) read-write.</summary>
    /// <exception cref="IOException">there is no such folder; the message lists the ones there are.</exception>
    public override Mailbox OpenFolder(string name, MuaContext ctx)
    {
        if (name.Length > 1 && name[0] is '+' or '=') name = name[1..];
        var names = FolderNames();
        string? match = names.FirstOrDefault(n => n.Equals(name, StringComparison.Ordinal))
            ?? (name.Equals("INBOX", StringComparison.OrdinalIgnoreCase) ? "INBOX" : null);   // RFC 9051 §5.1: INBOX is case-insensitive
        if (match is null) throw new IOException($"{name}: no such folder (there are: {string.Join(", ", names)})");
        var next = match == "INBOX" ? _client.Inbox : _client.GetFolder(match);
        next.Open(FolderAccess.ReadWrite);
        _inbox = next;
        _uids.Clear();
        Fetch();
        var watch = _watch;
        _watcher?.Dispose();
        if (watch is { } w) _watcher = ImapWatcher.Start(_url, _password, _trust, next.FullName, next.Count, w.Changed, w.Failed);
        Path = _url.WithFolder(next.FullName);
        return this;
    }

    private void Fetch()
    {
        // Deletion marks not yet committed survive a refresh.
        var marked = _uids.Where(kv => kv.Key.Deleted).Select(kv => kv.Value).ToHashSet();
        Entries.Clear();
        _uids.Clear();
        if (_inbox.Count == 0) return;
        foreach (var s in _inbox.Fetch(0, -1, new FetchRequest(Items)))
        {
            var env = s.Envelope;
            string from = env?.From.Mailboxes.FirstOrDefault()?.Address ?? env?.Sender.Mailboxes.FirstOrDefault()?.Address ?? "";
            var flags = s.Flags ?? MessageFlags.None;
            var entry = new MailboxEntry
            {
                Number = Entries.Count + 1,
                From = from,
                Subject = env?.Subject ?? "",
                Date = DateColumn(env?.Date ?? s.InternalDate ?? DateTimeOffset.UnixEpoch),
                Size = s.Size ?? 0,
                // RFC 9051 §2.3.2: \Seen read; \Recent (rev1) is a new arrival; neither: old unread.
                State = flags.HasFlag(MessageFlags.Seen) ? MessageState.Read : flags.HasFlag(MessageFlags.Recent) ? MessageState.New : MessageState.Unread,
                Replied = flags.HasFlag(MessageFlags.Answered),
                Deleted = flags.HasFlag(MessageFlags.Deleted) || marked.Contains(s.UniqueId),
                MessageId = env?.MessageId,
                Parents = [.. s.References ?? [], .. env?.InReplyTo is { Length: > 0 } irt ? [irt.Trim().Trim('<', '>')] : Array.Empty<string>()],
            };
            Entries.Add(entry);
            _uids[entry] = s.UniqueId;
        }
        // mutt shows unseen messages without \Recent as new too when nothing is \Recent (rev2 has no \Recent).
        if (!Entries.Any(e => e.State == MessageState.New))
            foreach (var e in Entries.Where(e => e.State == MessageState.Unread)) e.State = MessageState.New;
    }

    /// <summary>FETCH BODY[] (sets \Seen, RFC 9051 §6.4.5).</summary>
    public override MimeMessage Load(MailboxEntry e) => _inbox.GetMessage(_uids[e]);

    public override string FromLine(MailboxEntry e) =>
        $"From {(e.From.Length > 0 ? e.From : "MAILER-DAEMON")} {DateTimeOffset.UtcNow.ToString("ddd MMM d HH:mm:ss yyyy", CultureInfo.InvariantCulture)}";

    public override void CopyAsMbox(MailboxEntry e, Stream to)
    {
        using var message = _inbox.GetStream(_uids[e]);
        WriteMboxQuoted(FromLine(e), message, to);
    }

    /// <summary>RFC 9051 §2.3.2: \Answered.</summary>
    public override void MarkAnswered(MailboxEntry e) =>
        _inbox.Store(_uids[e], new StoreFlagsRequest(StoreAction.Add, MessageFlags.Answered) { Silent = true });

    public override int Commit()
    {
        var gone = Entries.Where(x => x.Deleted).Select(x => _uids[x]).ToList();
        if (gone.Count > 0)
        {
            _inbox.Store(gone, new StoreFlagsRequest(StoreAction.Add, MessageFlags.Deleted) { Silent = true });
            if (_client.Capabilities.HasFlag(ImapCapabilities.UidPlus)) _inbox.Expunge(gone);
            else _inbox.Expunge();
        }
        return Entries.Count - gone.Count;
    }

    public override Mailbox Reopen(MuaContext ctx)
    {
        // RFC 9051 §7.4.1: the server tells this session of new messages (EXISTS) only at the end of a
        // command; until then "1:*" means the messages it already announced.
        _client.NoOp();
        Fetch();
        return this;
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _watcher = null;
        try
        {
            if (_client.IsConnected) _client.Disconnect(quit: true);
        }
        catch (Exception e) when (e is IOException or ImapProtocolException or ImapCommandException)
        {
            // LOGOUT failed: the connection is closed below either way.
        }
        _client.Dispose();
    }
}
