using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Imap;
using Posthorn.Imap.Auth;
using Posthorn.Lmtp;
using Posthorn.Logging;
using Posthorn.Mail.Auth;
using Posthorn.Mail.Delivery;
using Posthorn.Pop3;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Master;

/// <summary>The Dovecot role: master.cf rows whose command is <c>imapd</c>, <c>pop3d</c> or <c>lmtpd</c>.</summary>
/// <remarks>Users log in and are looked up in one user database (<see cref="UserDatabase.Open"/>:
/// <c>posthorn_passwd_file</c> in Dovecot's passwd-file format, else the system accounts), the same one
/// SMTP AUTH uses, and are served the mailbox <c>imapd_mailbox</c> under their home; lmtpd delivers there.
/// One store serves every session, so sessions see each other's changes.
/// Rows: <c>imap inet n - n - - imapd</c>, <c>imaps inet n - n - - imapd -o imapd_tls_wrappermode=yes</c>,
/// the same with pop3d, and <c>lmtp-posthorn unix - - n - - lmtpd</c> (socket
/// <c>$queue_directory/private/lmtp-posthorn</c>; <c>public/</c> when the private column is n) or an inet row.
/// Security: certificates are read when the row is bound, before the daemon drops its privileges, and again at
/// each reload (as root, on a thread raised to the saved root, when the daemon has dropped its privileges).
/// Parameters: posthorn_passwd_file, imapd_mailbox, imapd_disable_plaintext_auth, imapd_max_literal_size,
/// imapd_max_line_length, imapd_timeout, imapd_auth_failure_delay, imapd_tls_cert_file, imapd_tls_key_file,
/// imapd_tls_protocols, imapd_tls_wrappermode, lmtpd_timeout, lmtpd_recipient_limit, message_size_limit,
/// mailbox_size_limit, queue_directory, myhostname.</remarks>
public sealed partial class MasterDaemon
{
    private long _imapSessions;
    private readonly ConcurrentDictionary<string, IPasswordDatabase> _userDatabases = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Listener, (X509Certificate2? Cert, X509Certificate2Collection? Chain)> _mailboxTls = new();
    private readonly Posthorn.Pop3.Pop3MaildropLocks _pop3Locks = new();
    private Posthorn.Store.Mbox.MboxInboxStore? _mboxInbox;

    /// <summary>The sessions' store: Maildir, with INBOX from mail_spool_directory/USER for mbox users
    /// (home_mailbox empty, see MboxInboxStore.ForConfig); the index goes under data_directory.</summary>
    private Posthorn.Store.IMailStore MailStore(ConfigSnapshot cfg) =>
        LazyInitializer.EnsureInitialized(ref _mboxInbox, () => new(_store, _clock, Path.Combine(cfg.Get("data_directory"), "imapd-mbox")))
            .ForConfig(cfg.Get("home_mailbox"), cfg.Get("mail_spool_directory"), Posthorn.Store.Mbox.MboxLockOptions.Default);

    private static ImapSessionOptions ImapOptions(ConfigSnapshot cfg) => new()
    {
        DisablePlaintextAuth = cfg.GetBool("imapd_disable_plaintext_auth"),
        MaxLiteralSize = cfg.GetSize("imapd_max_literal_size"),
        MaxLineLength = (int)cfg.GetNumber("imapd_max_line_length"),
        Timeout = cfg.GetTime("imapd_timeout"),
        AuthFailureDelay = cfg.GetTime("imapd_auth_failure_delay"),
        TlsWrapperMode = cfg.GetBool("imapd_tls_wrappermode"),
        TlsProtocols = TlsProtocolList.TryParse(cfg.Get("imapd_tls_protocols"), out var p) ? p : SslProtocols.None,
    };

    /// <summary>One database object per file, so its parsed snapshot is shared by all sessions.</summary>
    private IPasswordDatabase Users(ConfigSnapshot cfg) =>
        _userDatabases.GetOrAdd(cfg.Get("posthorn_passwd_file").Trim(), UserDatabase.Open);

    private static bool IsMailboxService(MasterService svc) =>
        svc.Command is "imapd" or "pop3d" or "lmtpd" && svc.Type is "inet" or "unix";

    /// <summary>Binds an imapd, pop3d or lmtpd row (inet, or unix for a socket under the queue directory);
    /// false for other commands, which BindListeners handles.</summary>
    private bool TryBindMailboxService(MasterService svc, ConfigSnapshot cfg)
    {
        if (!IsMailboxService(svc)) return false;
        var rowCfg = svc.Overrides.Count == 0 ? cfg : cfg.WithOverrides(svc.Overrides);
        var settings = svc.Overrides.Count == 0 ? _settings : Settings.From(rowCfg, Log);
        var tls = MailboxCertificate(svc, rowCfg);
        if (svc.Type == "unix")
        {
            string path = UnixSocketPath(svc, cfg);
            AddMailboxListener(new Listener(svc, BindUnixSocket(path), settings, path), tls);
            return true;
        }
        foreach (var endPoint in svc.ResolveEndPoints(cfg))
            AddMailboxListener(new Listener(svc, ListenSocket.Bind(endPoint), settings, endPoint.ToString()), tls);
        return true;
    }

    /// <summary>Postfix master(5): a unix service lives in private/ (column 3 "y" or "-") or public/.</summary>
    private static string UnixSocketPath(MasterService svc, ConfigSnapshot cfg) =>
        Path.Combine(cfg.Get("queue_directory"), svc.Private == "n" ? "public" : "private", svc.Name);

    /// <summary>Listens on the unix-domain socket <paramref name="path"/>; a failure is an IOException naming it.</summary>
    private static Socket BindUnixSocket(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Delete(path);   // a socket left by a previous run
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(512);
            // Postfix: the directory's mode guards the socket; the socket itself is open to who can reach it.
            File.SetUnixFileMode(path, (UnixFileMode)0x1B6 /* 0666 */);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"bind {path}: {e.Message}", e);
        }
    }

    /// <summary>The certificate of an imapd or pop3d row, read from its files now (start and every reload); none for lmtpd.</summary>
    private (X509Certificate2?, X509Certificate2Collection?) MailboxCertificate(MasterService svc, ConfigSnapshot rowCfg) =>
        svc.Command == "lmtpd" ? (null, null) : LoadMailboxCertificate(rowCfg);

    private void AddMailboxListener(Listener listener, (X509Certificate2?, X509Certificate2Collection?) tls)
    {
        _listeners.Add(listener);
        _mailboxTls[listener] = tls;
    }

    /// <summary>imapd_tls_cert_file/imapd_tls_key_file (defaults: smtpd's); (null, null) when unset or unreadable.</summary>
    private (X509Certificate2?, X509Certificate2Collection?) LoadMailboxCertificate(ConfigSnapshot cfg)
    {
        string certFile = cfg.Get("imapd_tls_cert_file").Trim(), keyFile = cfg.Get("imapd_tls_key_file").Trim();
        return PemCertificate.Load(certFile, keyFile, Log, "imap", "; TLS is not offered");
    }

    private async Task ServeMailboxAccessAsync(Listener listener, Socket client, CancellationToken ct)
    {
        var cfg = listener.Settings.Config;
        using (client)
        {
            var stream = new NetworkStream(client, ownsSocket: false);
            string sessionId = $"{Environment.ProcessId:X}{Interlocked.Increment(ref _imapSessions):X8}";
            try
            {
                if (listener.Service.Command == "lmtpd")
                {
                    await ServeLmtpAsync(stream, client, listener.Settings, sessionId, ct);
                    return;
                }
                var (cert, chain) = _mailboxTls.TryGetValue(listener, out var tls) ? tls : (null, null);
                var options = ImapOptions(cfg) with
                {
                    RemoteEndPoint = client.RemoteEndPoint as IPEndPoint,
                    LocalEndPoint = client.LocalEndPoint as IPEndPoint,
                    SessionId = sessionId,
                    TlsCertificate = cert,
                    TlsChain = chain,
                    Pop3Locks = _pop3Locks,
                };
                var users = new UserDatabaseImapResolver(Users(cfg), cfg.Get("imapd_mailbox"));
                // The user's mail, opened as the user; an mbox INBOX's index lives in a directory of the user's own.
                var store = new UserMailStore(MailStore(cfg), Users(cfg))
                {
                    PrivateDirectoryOf = user => _mboxInbox?.IndexDirectoryOf(user),
                };
                if (listener.Service.Command == "pop3d")
                    await new Pop3ServerSession(stream, options, store, users, Log, _clock).RunAsync(ct);
                else
                    await new ImapServerSession(stream, options, store, users, Log, _clock).RunAsync(ct);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                Log.Info(listener.Service.Command, $"lost connection from {client.RemoteEndPoint}: {e.Message}");
            }
        }
    }

    private async Task ServeLmtpAsync(Stream stream, Socket client, Settings settings, string sessionId, CancellationToken ct)
    {
        var cfg = settings.Config;
        var options = new LmtpSessionOptions
        {
            Hostname = cfg.Get("myhostname"),
            Client = client.RemoteEndPoint is IPEndPoint ip ? ip.Address.ToString() : "local",
            Timeout = cfg.GetTime("lmtpd_timeout"),
            MessageSizeLimit = cfg.GetSize("message_size_limit"),
            RecipientLimit = (int)cfg.GetNumber("lmtpd_recipient_limit"),
            SpoolDirectory = Path.Combine(cfg.Get("queue_directory"), "lmtp"),
            SessionId = sessionId,
        };
        // local(8)'s own instance: lmtpd and local delivery to one mbox also wait for each other inside the process.
        var agent = new LmtpMailboxAgent(Users(cfg), _transports.Local(settings), settings.Local, cfg.Get("imapd_mailbox"), _ids, Log);
        await new LmtpServerSession(stream, options, agent, Log, _clock).RunAsync(ct);
    }
}

/// <summary>imapd's and pop3d's <see cref="IImapUserResolver"/> over the user database: a login gives the
/// mailbox <c>imapd_mailbox</c> under the user's home. SCRAM credentials come from the database when it has them.</summary>
public sealed class UserDatabaseImapResolver(IPasswordDatabase database, string homeMailbox) : IImapScramUserResolver
{
    public async ValueTask<ImapUser?> AuthenticateAsync(string user, string password, CancellationToken ct)
    {
        if (user.Length == 0 || user.Contains(':')) return null;
        var found = await database.LoginAsync(user, password, ct);
        return found.User?.MailboxPath(homeMailbox) is { } maildir ? new ImapUser(found.User.Name, maildir) : null;
    }

    public bool OffersScram(Posthorn.Sasl.ScramHash hash) => database is IScramSecretDatabase scram && scram.HasScramSecrets(hash);

    public async ValueTask<(bool Temporary, Posthorn.Sasl.ScramCredentials? Credentials)> GetScramAsync(string user,
        Posthorn.Sasl.ScramHash hash, CancellationToken ct)
    {
        if (database is not IScramSecretDatabase scram || user.Length == 0 || user.Contains(':')) return (false, null);
        var (result, credentials) = await scram.GetScramAsync(user, hash, ct);
        return (result == AuthResult.TemporaryFailure, result == AuthResult.Success ? credentials : null);
    }

    public async ValueTask<ImapUser?> FindAsync(string user, CancellationToken ct)
    {
        var found = await database.FindAsync(user, ct);
        return found.User?.MailboxPath(homeMailbox) is { } maildir ? new ImapUser(found.User.Name, maildir) : null;
    }
}
