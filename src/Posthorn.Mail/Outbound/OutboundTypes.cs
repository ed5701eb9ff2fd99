using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Outbound;

/// <summary>The message smtp(8) sends: its envelope sender, its size and its content (LF line ends, as queued).</summary>
/// <param name="OpenContent">Opens the content from the start; may be called once per server tried.</param>
/// <param name="SmtpUtf8Requested">The sender asked for SMTPUTF8 (RFC 6531) when the message arrived (MAIL FROM's
/// SMTPUTF8 parameter, kept in the queue file).</param>
public sealed record OutboundMessage(QueueId Id, SmtpPath Sender, long Size, Func<Stream> OpenContent, bool SmtpUtf8Requested = false);

/// <summary>One recipient for one next hop; <paramref name="OriginalRecipient"/> is kept for the DSN.</summary>
public sealed record OutboundRecipient(string Address, string? OriginalRecipient = null);

/// <summary>What happened to one recipient.</summary>
/// <param name="Relay"><c>host[addr]:port</c> of the server that answered for it, or <c>none</c>.</param>
/// <param name="Text">Postfix's status text: <c>250 2.0.0 Ok: queued as X</c>, <c>host x[a] said: 550 … (in reply to RCPT TO command)</c>,
/// <c>connect to x[a]:25: Connection refused</c>.</param>
/// <param name="RemoteMta">The server's host name when a server answered (DSN Remote-MTA).</param>
/// <param name="DiagnosticCode">The server's reply (DSN Diagnostic-Code: smtp; …), when there was one.</param>
public sealed record OutboundRecipientResult(
    OutboundRecipient Recipient, DeliveryOutcome Outcome, EnhancedStatus Dsn, string Text, string Relay,
    string? RemoteMta, string? DiagnosticCode);

/// <summary>The results of one delivery, with Postfix's delay split: <see cref="Connection"/> (delays=…/…/c/…)
/// and <see cref="Transmission"/> (…/d).</summary>
public sealed record OutboundDeliveryResult(IReadOnlyList<OutboundRecipientResult> Recipients, TimeSpan Connection, TimeSpan Transmission);

/// <summary><c>smtp_tls_security_level</c>, as far as Posthorn implements it.</summary>
public enum SmtpTlsLevel
{
    /// <summary>Never STARTTLS.</summary>
    None,
    /// <summary>Opportunistic: STARTTLS when offered, no certificate check, plaintext when it fails.</summary>
    May,
    /// <summary>Mandatory encryption, no certificate check: no STARTTLS means deferral.</summary>
    Encrypt,
    /// <summary>Mandatory encryption; the chain must verify against smtp_tls_CAfile and a certificate name must
    /// match smtp_tls_verify_cert_match (default: the MX host name).</summary>
    Verify,
    /// <summary>As <see cref="Verify"/>, with smtp_tls_secure_cert_match (default: the next-hop domain or a subdomain).</summary>
    Secure,
}

/// <summary>The SASL security properties of smtp_sasl_security_options (Postfix SASL_README, Cyrus SASL's flags).</summary>
[Flags]
public enum SaslSecurity
{
    None = 0,
    /// <summary>noplaintext: no mechanism that sends the password (PLAIN, LOGIN).</summary>
    NoPlaintext = 1,
    /// <summary>noactive: no mechanism open to active (non-dictionary) attacks.</summary>
    NoActive = 2,
    /// <summary>nodictionary: no mechanism open to passive dictionary attacks.</summary>
    NoDictionary = 4,
    /// <summary>noanonymous: no mechanism that allows anonymous login.</summary>
    NoAnonymous = 8,
    /// <summary>mutual_auth: only mechanisms that authenticate the server too.</summary>
    MutualAuth = 16,
}

/// <summary>The main.cf parameters smtp(8) reads, resolved by the caller; defaults from postconf(5).</summary>
public sealed record SmtpClientOptions
{
    /// <summary>smtp_helo_name.</summary>
    public string HeloName { get; init; } = "localhost";
    public SmtpTlsLevel TlsLevel { get; init; } = SmtpTlsLevel.May;
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan HeloTimeout { get; init; } = TimeSpan.FromSeconds(300);
    public TimeSpan StartTlsTimeout { get; init; } = TimeSpan.FromSeconds(300);
    public TimeSpan MailTimeout { get; init; } = TimeSpan.FromSeconds(300);
    public TimeSpan RcptTimeout { get; init; } = TimeSpan.FromSeconds(300);
    public TimeSpan DataInitTimeout { get; init; } = TimeSpan.FromSeconds(120);
    public TimeSpan DataXferTimeout { get; init; } = TimeSpan.FromSeconds(180);
    public TimeSpan DataDoneTimeout { get; init; } = TimeSpan.FromSeconds(600);
    public TimeSpan QuitTimeout { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>smtp_mx_session_limit: most servers that got as far as a greeting, per delivery.</summary>
    public int MxSessionLimit { get; init; } = 2;
    /// <summary>line_length_limit: a reply line longer than this ends the session (bounded reads, STYLE C7).</summary>
    public int ReplyLineLimit { get; init; } = 2048;
    /// <summary>Most lines in one multi-line reply (Posthorn's own bound).</summary>
    public int ReplyLineCountLimit { get; init; } = 1000;
    /// <summary>smtp_bind_address: local address of outgoing connections, when set.</summary>
    public System.Net.IPAddress? BindAddress { get; init; }
    /// <summary>smtp_connection_cache_time_limit: an idle cached session is kept this long for the next delivery
    /// to the same server. Zero: no caching at all (QUIT after each delivery).</summary>
    public TimeSpan ConnectionCacheTimeLimit { get; init; }
    /// <summary>smtp_rset_timeout: the reply to the RSET that checks a cached session before reuse.</summary>
    public TimeSpan RsetTimeout { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>Speak LMTP (RFC 2033): LHLO, no HELO fallback, one reply per recipient after the final dot.</summary>
    public bool Lmtp { get; init; }
    /// <summary>smtp_fallback_relay (formerly fallback_relay): tried in order when every server of the
    /// destination was unreachable or the destination was not found.</summary>
    public IReadOnlyList<NextHop> FallbackRelay { get; init; } = [];
    /// <summary>smtp_tls_policy_maps as one lookup (null when empty); may throw
    /// <see cref="Posthorn.Config.Tables.LookupTableException"/>.</summary>
    public Func<string, string?>? TlsPolicyLookup { get; init; }
    /// <summary>smtp_tls_CAfile: PEM bundle of trusted CAs; null means the system's trust store.</summary>
    public string? TlsCaFile { get; init; }
    /// <summary>smtp_tls_verify_cert_match (level verify).</summary>
    public IReadOnlyList<string> TlsVerifyCertMatch { get; init; } = ["hostname"];
    /// <summary>smtp_tls_secure_cert_match (level secure).</summary>
    public IReadOnlyList<string> TlsSecureCertMatch { get; init; } = ["nexthop", "dot-nexthop"];
    /// <summary>smtp_sasl_auth_enable.</summary>
    public bool SaslAuthEnable { get; init; }
    /// <summary>smtp_sasl_password_maps as one lookup: the <c>username:password</c> for a key, or null.
    /// May throw <see cref="Posthorn.Config.Tables.LookupTableException"/> (the delivery is deferred).</summary>
    public Func<string, string?>? SaslPasswordLookup { get; init; }
    /// <summary>smtp_sasl_security_options (a plaintext session).</summary>
    public SaslSecurity SaslSecurityOptions { get; init; } = SaslSecurity.NoPlaintext | SaslSecurity.NoAnonymous;
    /// <summary>smtp_sasl_tls_security_options (a TLS session).</summary>
    public SaslSecurity SaslTlsSecurityOptions { get; init; } = SaslSecurity.NoPlaintext | SaslSecurity.NoAnonymous;
    /// <summary>smtp_sasl_mechanism_filter: the offered mechanisms kept (upper case); empty keeps all.</summary>
    public IReadOnlyList<string> SaslMechanismFilter { get; init; } = [];
    /// <summary>smtp_sasl_auth_soft_bounce: a 5xx reply to AUTH defers instead of bouncing.</summary>
    public bool SaslAuthSoftBounce { get; init; } = true;
    /// <summary>posthorn_smtp_use_bdat (Posthorn extension): BDAT (RFC 3030) when the server offers CHUNKING.</summary>
    public bool UseBdat { get; init; }
    /// <summary>smtp_connection_cache_on_demand: cache sessions of destinations with a backlog.</summary>
    public bool ConnectionCacheOnDemand { get; init; } = true;
    /// <summary>smtp_connection_cache_destinations: true for a destination whose sessions are always cached
    /// (its name as Postfix matches it: a domain, a relay host without [] and port, or a socket path).</summary>
    public Func<string, bool>? ConnectionCacheDestination { get; init; }
}
