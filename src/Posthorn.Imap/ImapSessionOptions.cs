using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Posthorn.Imap;

/// <summary>Settings of one imapd connection: where it comes from and the main.cf imapd_* values.</summary>
/// <remarks>
/// Parameters (main.cf, read by the daemon):
/// <list type="bullet">
/// <item>imapd_disable_plaintext_auth (default yes; Dovecot disable_plaintext_auth): LOGIN and
/// AUTHENTICATE PLAIN only over TLS — or from the loopback address, which Dovecot also treats as
/// secured; elsewhere CAPABILITY shows LOGINDISABLED.</item>
/// <item>imapd_max_literal_size (default $message_size_limit, advertised as APPENDLIMIT): the largest
/// literal accepted; a larger one is refused before it is read.</item>
/// <item>imapd_max_line_length (default 65536; Dovecot imap_max_line_length).</item>
/// <item>imapd_timeout (default 30m, RFC 9051 §5.4 autologout timer; also limits IDLE).</item>
/// <item>imapd_mailbox_check_interval (default 500ms): how often IDLE looks for new mail.</item>
/// <item>imapd_auth_failure_delay (default 2s; Dovecot auth_failure_delay).</item>
/// <item>imapd_tls_cert_file, imapd_tls_key_file (default $smtpd_tls_cert_file, $smtpd_tls_key_file): the
/// certificate; with one, STARTTLS (IMAP) and STLS (POP3) are offered.</item>
/// <item>imapd_tls_wrappermode (default no; set with -o on the imaps/pop3s rows): TLS from the first byte.</item>
/// <item>imapd_tls_protocols (default $smtpd_tls_protocols).</item>
/// </list>
/// </remarks>
public sealed record ImapSessionOptions
{
    public IPEndPoint? RemoteEndPoint { get; init; }
    public IPEndPoint? LocalEndPoint { get; init; }
    /// <summary>The connection is already TLS (set by the session after STARTTLS or the wrapper-mode handshake).</summary>
    public bool IsTls { get; init; }
    /// <summary>The server certificate; null means no TLS (STARTTLS/STLS not offered).</summary>
    public X509Certificate2? TlsCertificate { get; init; }
    /// <summary>Intermediate certificates sent with <see cref="TlsCertificate"/>.</summary>
    public X509Certificate2Collection? TlsChain { get; init; }
    /// <summary>Protocols allowed; None means the system default.</summary>
    public SslProtocols TlsProtocols { get; init; } = SslProtocols.None;
    /// <summary>imapd_tls_wrappermode: the handshake comes before the greeting (imaps 993, pop3s 995).</summary>
    public bool TlsWrapperMode { get; init; }
    public bool DisablePlaintextAuth { get; init; } = true;
    public long MaxLiteralSize { get; init; } = 10_240_000;
    public int MaxLineLength { get; init; } = 65536;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);
    public TimeSpan MailboxCheckInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan AuthFailureDelay { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>pop3d: the daemon's maildrop locks (RFC 1939 §8); null, no locking.</summary>
    public Pop3.Pop3MaildropLocks? Pop3Locks { get; init; }
    /// <summary>Dovecot's session=&lt;ID&gt; in the login line; the daemon makes one per connection.</summary>
    public string SessionId { get; init; } = "";

    internal string RemoteIp => RemoteEndPoint?.Address.ToString() ?? "";
    internal string LocalIp => LocalEndPoint?.Address.ToString() ?? "";

    /// <summary>Dovecot calls a connection "secured" when it is TLS or from localhost.</summary>
    internal bool Secured => IsTls || RemoteEndPoint is { } ep && IPAddress.IsLoopback(ep.Address);

    internal string SecurityLabel => IsTls ? "TLS" : Secured ? "secured" : "";

    internal bool PlaintextAllowed => !DisablePlaintextAuth || Secured;

    /// <summary>STARTTLS/STLS can be offered: a certificate, and no TLS yet.</summary>
    internal bool StartTlsOffered => TlsCertificate is not null && !IsTls;
}
