using Posthorn.Core;

namespace Posthorn.Logging;

/// <summary>smtpd(8)'s lines, worded as Postfix 3.x logs them. Callers pass client-supplied text
/// already made printable (non-printable bytes as "?"), as Postfix's printable() does.</summary>
public sealed partial class MailLog
{
    private const string SmtpdProgram = "smtpd";

    /// <summary><c>connect from localhost[127.0.0.1]</c></summary>
    public void SmtpdConnect(string client) => Info(SmtpdProgram, $"connect from {client}");

    /// <summary><c>disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4</c></summary>
    public void SmtpdDisconnect(string client, string commandCounts) =>
        Info(SmtpdProgram, $"disconnect from {client} {commandCounts}");

    /// <summary>Abnormal end of a session: <c>lost connection after DATA (812 bytes) from …</c>,
    /// <c>timeout after RCPT from …</c>, <c>too many errors after UNKNOWN from …</c>.</summary>
    public void SmtpdSessionAborted(string reason, string where, string client) =>
        Info(SmtpdProgram, $"{reason} after {where} from {client}");

    /// <summary>A restriction refused a command:
    /// <c>NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 &lt;u@x&gt;: Relay access denied; from=&lt;a@b&gt; to=&lt;u@x&gt; proto=ESMTP helo=&lt;h&gt;</c>.
    /// The queue ID replaces NOQUEUE once the transaction has one.</summary>
    public void SmtpdReject(QueueId? id, string command, string client, string reply,
        string? sender, string? recipient, string? protocol, string? helo)
    {
        var text = new System.Text.StringBuilder();
        text.Append(id?.ToString() ?? "NOQUEUE").Append(": reject: ").Append(command).Append(" from ").Append(client)
            .Append(": ").Append(reply).Append(';');
        if (sender is not null) text.Append(" from=<").Append(sender).Append('>');
        if (recipient is not null) text.Append(" to=<").Append(recipient).Append('>');
        if (protocol is not null) text.Append(" proto=").Append(protocol);
        if (helo is not null) text.Append(" helo=<").Append(helo).Append('>');
        Info(SmtpdProgram, text.ToString());
    }

    /// <summary><c>warning: localhost[127.0.0.1]: request longer than 2048: MAIL FROM:&lt;aaaaaaaaaaaaaaaaaaa...</c></summary>
    public void SmtpdRequestTooLong(string client, int limit, string start) =>
        Warning(SmtpdProgram, $"{client}: request longer than {limit}: {start}...");

    /// <summary><c>warning: Illegal address syntax from localhost[127.0.0.1] in MAIL command: &lt;a@&gt;</c></summary>
    public void SmtpdIllegalAddress(string client, string command, string address) =>
        Warning(SmtpdProgram, $"Illegal address syntax from {client} in {command} command: {address}");

    /// <summary><c>warning: non-SMTP command from localhost[127.0.0.1]: GET / HTTP/1.1</c></summary>
    public void SmtpdNonSmtpCommand(string client, string line) =>
        Warning(SmtpdProgram, $"non-SMTP command from {client}: {line}");

    /// <summary><c>warning: 3F1A2B0C4D: queue file size limit exceeded</c></summary>
    public void SmtpdSizeLimitExceeded(QueueId id) => Warning(SmtpdProgram, $"{id}: queue file size limit exceeded");

    /// <summary><c>discarding EHLO keywords: PIPELINING VRFY</c> (smtpd_discard_ehlo_keywords).</summary>
    public void SmtpdDiscardingEhloKeywords(string keywords) => Info(SmtpdProgram, $"discarding EHLO keywords: {keywords}");

    /// <summary>Our own failure while serving a client (a bug or a broken sink); the session ends with 421.</summary>
    public void SmtpdSessionFailed(string client, string what) => Warning(SmtpdProgram, $"{client}: {what}");
    /// <summary>smtpd_tls_loglevel &gt;= 1: <c>Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)</c></summary>
    public void SmtpdTlsEstablished(string client, string protocol, string cipher, int bits) =>
        Info(SmtpdProgram, $"Anonymous TLS connection established from {client}: {protocol} with cipher {cipher} ({bits}/{bits} bits)");

    /// <summary>The TLS handshake failed: <c>SSL_accept error from localhost[127.0.0.1]: …</c></summary>
    public void SmtpdTlsAcceptError(string client, string detail) => Info(SmtpdProgram, $"SSL_accept error from {client}: {detail}");

    /// <summary>Postfix smtpd_sasl_glue.c; fail2ban's postfix-sasl filter reads this line, so nothing may follow the reason:
    /// <c>warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: authentication failure</c></summary>
    public void SmtpdSaslFailed(string client, string method, string reason) =>
        Warning(SmtpdProgram, $"{client}: SASL {method} authentication failed: {reason}");

    /// <summary>The client cancelled AUTH with "*": <c>warning: localhost[127.0.0.1]: SASL LOGIN authentication aborted</c></summary>
    public void SmtpdSaslAborted(string client, string method) => Warning(SmtpdProgram, $"{client}: SASL {method} authentication aborted");

    /// <summary>The first line of a queued message: <c>3F1A2B0C4D: client=localhost[127.0.0.1]</c>, with
    /// <c>, sasl_method=PLAIN, sasl_username=alice</c> after a successful AUTH (Postfix smtpd.c).</summary>
    public void SmtpdClient(QueueId id, string client, string? saslMethod, string? saslUsername) =>
        Info(SmtpdProgram, saslUsername is null
            ? $"{id}: client={client}"
            : $"{id}: client={client}, sasl_method={saslMethod}, sasl_username={saslUsername}");
}
