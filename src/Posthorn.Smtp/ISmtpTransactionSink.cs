using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>What the SMTP engine asks of the rest of the system. The daemon implements it (policy,
/// local recipient checks, cleanup and the queue); the engine knows nothing of those.</summary>
/// <remarks>A <c>null</c> reply means "accept with the engine's usual positive reply".</remarks>
public interface ISmtpTransactionSink
{
    /// <summary>MAIL FROM was parsed; may refuse the sender (smtpd_sender_restrictions).</summary>
    ValueTask<SmtpReply?> CheckSenderAsync(SmtpTransaction tx, CancellationToken ct);

    /// <summary>RCPT TO was parsed; relay control and the local recipient table
    /// (e.g. 554 5.7.1 Relay access denied, 550 5.1.1 User unknown in local recipient table).</summary>
    ValueTask<SmtpReply?> CheckRecipientAsync(SmtpTransaction tx, SmtpPath recipient, CancellationToken ct);

    /// <summary>VRFY for an address (disable_vrfy_command = no): 252 2.0.0 address, or a 550 rejection.</summary>
    ValueTask<SmtpReply> VerifyAsync(SmtpSessionInfo session, SmtpPath address, CancellationToken ct);

    /// <summary>Called once per transaction, right after the first recipient is accepted
    /// (Postfix smtpd_delay_open_until_valid_rcpt = yes). Assigns the queue ID and logs
    /// <c>ID: client=host[addr]</c>. Content follows only if DATA comes.</summary>
    ValueTask<ISmtpMessageWriter> OpenMessageAsync(SmtpTransaction tx, CancellationToken ct);

    /// <summary>DATA was given with at least one accepted recipient, before the 354 reply; may refuse it
    /// (Postfix smtpd_data_restrictions). The default accepts.</summary>
    ValueTask<SmtpReply?> CheckDataAsync(SmtpTransaction tx, CancellationToken ct) => ValueTask.FromResult<SmtpReply?>(null);

    /// <summary>The content was received (DATA's final dot or BDAT LAST), before the writer commits; may refuse the
    /// message (Postfix smtpd_end_of_data_restrictions). <paramref name="size"/> is the content size as Postfix counts
    /// it (each line plus two). A refusal disposes the writer, so nothing is queued. The default accepts.</summary>
    ValueTask<SmtpReply?> CheckEndOfDataAsync(SmtpTransaction tx, long size, CancellationToken ct) => ValueTask.FromResult<SmtpReply?>(null);

    /// <summary>notify_classes: the session met errors of a class the postmaster wants to hear about (Postfix
    /// smtpd_chat_notify). <paramref name="body"/> is the finished notice text (<see cref="SmtpSessionTranscript.NoticeBody"/>);
    /// the sink mails it to error_notice_recipient. Best effort: a failure is logged, never thrown.</summary>
    ValueTask NotifyPostmasterAsync(SmtpSessionInfo session, SmtpErrorClasses errors, string body, CancellationToken ct) =>
        ValueTask.CompletedTask;
}

/// <summary>Receives one message's content and makes it durable.</summary>
/// <remarks>Disposing without a successful <see cref="CommitAsync"/> removes everything written:
/// a dropped connection or an oversized message leaves no file behind.</remarks>
public interface ISmtpMessageWriter : IAsyncDisposable
{
    QueueId Id { get; }

    /// <summary>Content as complete lines, each ending in a single LF (CRLF already reduced),
    /// dot-stuffing removed (RFC 5321 §4.5.2). The engine writes its Received: header first.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> lines, CancellationToken ct);

    /// <summary>DESIGN.md decision 3: returns <c>250 2.0.0 Ok: queued as ID</c> only once the
    /// message is on stable storage; a local failure gives a 4xx reply (451 4.3.0).</summary>
    ValueTask<SmtpReply> CommitAsync(SmtpTransaction tx, CancellationToken ct);
}

/// <summary>The connection as smtpd knows it: who is on the other end, and what they said in HELO/EHLO.</summary>
public sealed class SmtpSessionInfo
{
    public required IPEndPoint Client { get; init; }
    /// <summary>The client's name from reverse DNS, or "unknown" (Postfix's wording).</summary>
    public string ClientName { get; init; } = "unknown";
    /// <summary>The listener's service name from master.cf (e.g. "smtp" or "127.0.0.1:2525").</summary>
    public string ServiceName { get; init; } = "smtp";
    public string? HeloName { get; set; }
    /// <summary>"SMTP" after HELO, "ESMTP" after EHLO (the Received: header's "with" clause).</summary>
    public string Protocol { get; set; } = "SMTP";

    /// <summary>Postfix's <c>name[address]</c> form, e.g. <c>localhost[127.0.0.1]</c>.</summary>
    public string ClientDescription => $"{ClientName}[{AddressText}]";

    public string AddressText => Client.Address.IsIPv4MappedToIPv6 ? Client.Address.MapToIPv4().ToString() : Client.Address.ToString();

    /// <summary>The TLS protocol in OpenSSL's words ("TLSv1.3") once STARTTLS or wrapper mode succeeded; null in plain text.</summary>
    public string? TlsProtocol { get; set; }
    /// <summary>The negotiated cipher suite ("TLS_AES_256_GCM_SHA384"), or null.</summary>
    public string? TlsCipher { get; set; }
    /// <summary>Secret key bits of the cipher (Postfix's "(256/256 bits)").</summary>
    public int TlsCipherBits { get; set; }
    public bool IsTls => TlsProtocol is not null;
    /// <summary>The SASL mechanism of a successful AUTH ("PLAIN", "LOGIN"), or null.</summary>
    public string? SaslMethod { get; set; }
    /// <summary>The user a successful AUTH proved to be (Postfix permit_sasl_authenticated); null before.</summary>
    public string? SaslUsername { get; set; }
    public bool IsSaslAuthenticated => SaslUsername is not null;
}

/// <summary>One mail transaction: MAIL FROM, the accepted recipients, and (after the first) the writer.</summary>
public sealed class SmtpTransaction(SmtpSessionInfo session, SmtpPath sender)
{
    public SmtpSessionInfo Session { get; } = session;
    public SmtpPath Sender { get; } = sender;
    /// <summary>MAIL FROM parameters as given (SIZE, BODY, …), names upper-cased.</summary>
    public Dictionary<string, string?> MailParameters { get; } = new(StringComparer.OrdinalIgnoreCase);
    public List<SmtpPath> Recipients { get; } = [];
    /// <summary>The RCPT DSN parameters (RFC 3461 NOTIFY, ORCPT), one entry per <see cref="Recipients"/> entry, same order.</summary>
    public List<SmtpRecipientDsn> RecipientDsn { get; } = [];
    public ISmtpMessageWriter? Writer { get; set; }
    /// <summary>RFC 6531: MAIL FROM carried SMTPUTF8 (UTF-8 addresses and headers may follow).</summary>
    public bool SmtpUtf8 { get; set; }
    /// <summary>RFC 3461 §4.3 RET: what a failure notice returns; <see cref="DsnReturn.Unspecified"/> without RET.</summary>
    public DsnReturn DsnReturn { get; set; }
    /// <summary>RFC 3461 §4.4 ENVID, xtext-decoded; null without ENVID.</summary>
    public string? DsnEnvelopeId { get; set; }
}

/// <summary>RFC 3461 §4.1 NOTIFY: when the sender wants a delivery status notification.</summary>
[Flags]
public enum DsnNotify : byte
{
    /// <summary>No NOTIFY given: the MTA's default (notify on failure, and on delay if it likes).</summary>
    Unspecified = 0,
    Never = 1,
    Success = 2,
    Failure = 4,
    Delay = 8,
}

/// <summary>RFC 3461 §4.3 RET.</summary>
public enum DsnReturn : byte
{
    Unspecified,
    /// <summary>RET=FULL: a failure notice returns the whole message.</summary>
    Full,
    /// <summary>RET=HDRS: only the header.</summary>
    Headers,
}

/// <summary>One recipient's DSN parameters.</summary>
/// <param name="Notify">NOTIFY, or <see cref="DsnNotify.Unspecified"/>.</param>
/// <param name="OriginalRecipient">ORCPT as <c>addr-type;address</c> with the address xtext-decoded
/// (RFC 3461 §4.2, as RFC 3464 §2.3.1 writes it in Original-Recipient:); null without ORCPT.</param>
public sealed record SmtpRecipientDsn(DsnNotify Notify, string? OriginalRecipient)
{
    public static readonly SmtpRecipientDsn None = new(DsnNotify.Unspecified, null);
}

/// <summary>Settings one SMTP session runs with, taken from the config snapshot when it starts.</summary>
public sealed record SmtpServerOptions
{
    /// <summary>myhostname: the EHLO reply and the Received: header's "by".</summary>
    public required string Hostname { get; init; }
    /// <summary>smtpd_banner, expanded, without the "220 " (Postfix default: "$myhostname ESMTP $mail_name").</summary>
    public required string Banner { get; init; }
    /// <summary>message_size_limit in bytes; 0 means no limit.</summary>
    public long MessageSizeLimit { get; init; } = 10_240_000;
    /// <summary>line_length_limit: the longest command line read before refusing it.</summary>
    public int LineLengthLimit { get; init; } = 2048;
    /// <summary>smtpd_timeout: how long to wait for the client's next line.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>smtpd_recipient_limit.</summary>
    public int RecipientLimit { get; init; } = 1000;
    /// <summary>smtpd_soft_error_limit / smtpd_hard_error_limit.</summary>
    public int SoftErrorLimit { get; init; } = 10;
    public int HardErrorLimit { get; init; } = 20;
    /// <summary>smtpd_error_sleep_time: the pause before each reply once the soft error limit is reached.</summary>
    public TimeSpan ErrorSleepTime { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>smtpd_junk_command_limit: NOOP, VRFY, ETRN and RSET commands allowed before each one counts as an error.</summary>
    public int JunkCommandLimit { get; init; } = 100;
    /// <summary>notify_classes as far as smtpd raises them; <see cref="SmtpErrorClasses.None"/> keeps no history.</summary>
    public SmtpErrorClasses NotifyClasses { get; init; } = SmtpErrorClasses.Resource | SmtpErrorClasses.Software;
    /// <summary>smtpd_history_flush_threshold: history lines kept before HELO/EHLO, RSET or the end of DATA flush them.</summary>
    public int HistoryFlushThreshold { get; init; } = 100;
    /// <summary>smtpd_helo_required: MAIL FROM is refused until HELO or EHLO was given (Postfix default: no).</summary>
    public bool HeloRequired { get; init; }
    /// <summary>disable_vrfy_command.</summary>
    public bool DisableVrfy { get; init; }
    /// <summary>Accept lines that end in a bare LF (Postfix smtpd_forbid_bare_newline exempts mynetworks).</summary>
    public bool AllowBareLf { get; init; } = true;
    /// <summary>smtpd_discard_ehlo_keywords, lower-case.</summary>
    public IReadOnlySet<string> DiscardEhloKeywords { get; init; } = new HashSet<string>();
    /// <summary>mail_name, for the Received: header ("by host (Posthorn) with ESMTP id …").</summary>
    public string MailName { get; init; } = "Posthorn";

    /// <summary>The server certificate with its private key (smtpd_tls_cert_file/smtpd_tls_key_file, or the
    /// first of smtpd_tls_chain_files); STARTTLS and wrapper mode need it.</summary>
    public X509Certificate2? TlsCertificate { get; init; }
    /// <summary>Intermediate certificates sent after <see cref="TlsCertificate"/> (smtpd_tls_chain_files).</summary>
    public X509Certificate2Collection? TlsChain { get; init; }
    /// <summary>smtpd_tls_security_level.</summary>
    public SmtpTlsSecurityLevel TlsSecurityLevel { get; init; } = SmtpTlsSecurityLevel.None;
    /// <summary>smtpd_tls_auth_only: no AUTH before TLS.</summary>
    public bool TlsAuthOnly { get; init; }
    /// <summary>smtpd_tls_protocols as the platform's flags; <see cref="SslProtocols.None"/> lets the system choose.</summary>
    public SslProtocols TlsProtocols { get; init; } = SslProtocols.None;
    /// <summary>smtpd_tls_received_header.</summary>
    public bool TlsReceivedHeader { get; init; }
    /// <summary>smtpd_tls_loglevel.</summary>
    public int TlsLogLevel { get; init; }
    /// <summary>smtpd_tls_wrappermode: TLS from the first byte (smtps, port 465).</summary>
    public bool TlsWrapperMode { get; init; }
    /// <summary>smtpd_sasl_auth_enable; AUTH also needs an <see cref="Authenticator"/>.</summary>
    public bool SaslAuthEnable { get; init; }
    /// <summary>Checks AUTH credentials; null leaves AUTH off.</summary>
    public ISmtpAuthenticator? Authenticator { get; init; }
    /// <summary>noplaintext in smtpd_sasl_security_options: PLAIN and LOGIN are not offered without TLS.</summary>
    public bool SaslNoPlaintext { get; init; }
    /// <summary>noplaintext in smtpd_sasl_tls_security_options: not offered over TLS either.</summary>
    public bool SaslTlsNoPlaintext { get; init; }
    /// <summary>broken_sasl_auth_clients: also announce <c>AUTH=PLAIN LOGIN</c>.</summary>
    public bool BrokenSaslAuthClients { get; init; }
    /// <summary>smtpd_sasl_authenticated_header: the Received: header names the SASL user.</summary>
    public bool SaslAuthenticatedHeader { get; init; }
    /// <summary>smtputf8_enable: offer SMTPUTF8 (RFC 6531) and insist that UTF-8 addresses declare it.</summary>
    public bool SmtpUtf8Enable { get; init; } = true;
}
