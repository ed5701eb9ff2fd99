using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>The one catalogue of the replies smtpd(8) sends, worded as Postfix 3.x words them (STYLE.md C5).</summary>
/// <remarks>
/// RFC 2034 §3 exempts the greeting and the HELO/EHLO replies from enhanced status codes, and Postfix
/// also sends a few legacy replies (ETRN, 354) without one. <see cref="SmtpReply"/> always carries an
/// <see cref="EnhancedStatus"/>, so such a reply is built by <see cref="Plain"/> with the default
/// (class 0) status, which the reply writer omits. <see cref="Format"/> is the only place that turns a
/// reply into wire text.
/// </remarks>
public static class SmtpReplies
{
    private static readonly EnhancedStatus None = default;

    /// <summary>A reply without an enhanced status code (class 0 means "none").</summary>
    public static SmtpReply Plain(short code, string text) => new(code, None, text);

    /// <summary>True when the reply carries an RFC 3463 code (class 2, 4 or 5).</summary>
    public static bool HasEnhancedStatus(SmtpReply reply) => reply.Status.Class != 0;

    /// <summary><c>220 $smtpd_banner</c></summary>
    public static SmtpReply Greeting(string banner) => Plain(220, banner);

    /// <summary>HELO: <c>250 $myhostname</c></summary>
    public static SmtpReply Helo(string hostname) => Plain(250, hostname);

    /// <summary>EHLO: <c>250-$myhostname</c>, one line per keyword, the last one <c>250 </c>.</summary>
    public static SmtpReply Ehlo(string hostname, IEnumerable<string> keywords) =>
        Plain(250, string.Join('\n', keywords.Prepend(hostname)));

    public static readonly SmtpReply HeloSyntax = Plain(501, "Syntax: HELO hostname");
    public static readonly SmtpReply EhloSyntax = Plain(501, "Syntax: EHLO hostname");

    public static readonly SmtpReply Ok = new(250, "2.0.0", "Ok");
    public static readonly SmtpReply MailOk = new(250, "2.1.0", "Ok");
    public static readonly SmtpReply RcptOk = new(250, "2.1.5", "Ok");
    public static readonly SmtpReply Bye = new(221, "2.0.0", "Bye");

    // MAIL (Postfix smtpd.c mail_cmd)
    public static readonly SmtpReply SendHeloFirst = new(503, "5.5.1", "Error: send HELO/EHLO first");
    public static readonly SmtpReply NestedMail = new(503, "5.5.1", "Error: nested MAIL command");
    public static readonly SmtpReply MailSyntax = new(501, "5.5.4", "Syntax: MAIL FROM:<address>");
    public static readonly SmtpReply BadSender = new(501, "5.1.7", "Bad sender address syntax");
    public static readonly SmtpReply BadMessageSizeSyntax = new(501, "5.5.4", "Bad message size syntax");
    public static readonly SmtpReply MessageSizeExceedsLimit = new(552, "5.3.4", "Message size exceeds fixed limit");
    public static SmtpReply UnsupportedOption(string parameter) => new(555, "5.5.4", $"Unsupported option: {parameter}");
    // RFC 6531 SMTPUTF8 (Postfix smtpd.c mail_cmd, rcpt_cmd, smtpd_proto).
    public static readonly SmtpReply MustDeclareSmtpUtf8 = new(553, "5.6.7", "Must declare SMTPUTF8 to send unicode address");
    public static readonly SmtpReply BadUtf8Syntax = new(500, "5.5.2", "Error: bad UTF-8 syntax");
    // RFC 3461 DSN parameters (Postfix smtpd.c mail_cmd, rcpt_cmd); the two RCPT ones do say "Error:".
    public static readonly SmtpReply BadRetSyntax = new(501, "5.5.4", "Bad RET parameter syntax");
    public static readonly SmtpReply BadEnvidSyntax = new(501, "5.5.4", "Bad ENVID parameter syntax");
    public static readonly SmtpReply BadNotifySyntax = new(501, "5.5.4", "Error: Bad NOTIFY parameter syntax");
    public static readonly SmtpReply BadOrcptSyntax = new(501, "5.5.4", "Error: Bad ORCPT parameter syntax");
    /// <summary>A DSN parameter when smtpd_discard_ehlo_keywords has "dsn".</summary>
    public static readonly SmtpReply DsnDisabled = new(501, "5.7.1", "DSN support is disabled");

    // RCPT (Postfix smtpd.c rcpt_cmd)
    public static readonly SmtpReply NeedMail = new(503, "5.5.1", "Error: need MAIL command");
    public static readonly SmtpReply RcptSyntax = new(501, "5.5.4", "Syntax: RCPT TO:<address>");
    public static readonly SmtpReply BadRecipient = new(501, "5.1.3", "Bad recipient address syntax");
    public static readonly SmtpReply TooManyRecipients = new(452, "4.5.3", "Error: too many recipients");

    // DATA (Postfix smtpd.c data_cmd, cleanup_stat_detail)
    public static readonly SmtpReply NeedRcpt = new(503, "5.5.1", "Error: need RCPT command");
    public static readonly SmtpReply NoValidRecipients = new(554, "5.5.1", "Error: no valid recipients");
    public static readonly SmtpReply DataSyntax = new(501, "5.5.4", "Syntax: DATA");
    public static readonly SmtpReply StartData = Plain(354, "End data with <CR><LF>.<CR><LF>");
    public static readonly SmtpReply MessageFileTooBig = new(552, "5.3.4", "Error: message file too big");
    public static SmtpReply Queued(QueueId id) => new(250, "2.0.0", $"Ok: queued as {id}");
    public static readonly SmtpReply QueueFileWriteError = new(451, "4.3.0", "Error: queue file write error");

    // BDAT (RFC 3030; Postfix smtpd.c bdat_cmd)
    /// <summary>The count is missing or not a number: the chunk's end cannot be found, so Postfix hangs up.</summary>
    public static readonly SmtpReply BdatSyntaxHangup = new(521, "5.5.4", "Syntax: BDAT count [LAST]");
    public static readonly SmtpReply BdatSyntax = new(501, "5.5.4", "Syntax: BDAT count [LAST]");
    public static readonly SmtpReply NullBdatRequest = new(551, "5.7.1", "Null BDAT request");
    public static readonly SmtpReply ChunkExceedsSizeLimit = new(552, "5.3.4", "Chunk exceeds message size limit");
    public static readonly SmtpReply MailAfterBdat = new(503, "5.5.1", "Error: MAIL after BDAT");
    public static readonly SmtpReply RcptAfterBdat = new(503, "5.5.1", "Error: RCPT after BDAT");
    public static readonly SmtpReply DataAfterBdat = new(503, "5.5.1", "Error: DATA after BDAT");
    /// <summary>A chunk that was not the last: <c>250 2.0.0 Ok: N bytes</c>.</summary>
    public static SmtpReply ChunkOk(long bytes) => new(250, "2.0.0", $"Ok: {bytes} bytes");

    // RSET, VRFY, ETRN
    public static readonly SmtpReply RsetSyntax = new(501, "5.5.4", "Syntax: RSET");
    public static readonly SmtpReply VrfyDisabled = new(502, "5.5.1", "VRFY command is disabled");
    public static readonly SmtpReply VrfySyntax = new(501, "5.5.4", "Syntax: VRFY address");
    public static SmtpReply VrfyResult(string address) => new(252, "2.0.0", address);
    public static readonly SmtpReply EtrnInTransaction = Plain(503, "Error: MAIL transaction in progress");
    public static readonly SmtpReply EtrnSyntax = Plain(500, "Syntax: ETRN domain");
    public static readonly SmtpReply EtrnBadParameter = Plain(501, "Error: invalid parameter syntax");
    public static readonly SmtpReply EtrnUnavailable = Plain(458, "Unable to queue messages");

    // STARTTLS (RFC 3207; Postfix smtpd.c starttls_cmd) and smtpd_tls_security_level = encrypt.
    public static readonly SmtpReply ReadyToStartTls = new(220, "2.0.0", "Ready to start TLS");
    public static readonly SmtpReply StartTlsSyntax = new(501, "5.5.4", "Syntax: STARTTLS");
    public static readonly SmtpReply TlsAlreadyActive = new(554, "5.5.1", "Error: TLS already active");
    public static readonly SmtpReply CommandNotImplemented = new(502, "5.5.1", "Error: command not implemented");
    public static readonly SmtpReply TlsNotAvailable = new(454, "4.7.0", "TLS not available due to local problem");
    public static readonly SmtpReply MustIssueStartTls = new(530, "5.7.0", "Must issue a STARTTLS command first");
    public static readonly SmtpReply MailTransactionInProgress = new(503, "5.5.1", "Error: MAIL transaction in progress");

    // AUTH (RFC 4954; Postfix smtpd_sasl_glue.c, smtpd_sasl_proto.c).
    public static readonly SmtpReply AuthNotEnabled = new(503, "5.5.1", "Error: authentication not enabled");
    public static readonly SmtpReply AlreadyAuthenticated = new(503, "5.5.1", "Error: already authenticated");
    public static readonly SmtpReply AuthSyntax = new(501, "5.5.4", "Syntax: AUTH mechanism");
    public static readonly SmtpReply UnsupportedMechanism = new(504, "5.5.4", "Unsupported authentication mechanism");
    public static readonly SmtpReply AuthSuccessful = new(235, "2.7.0", "Authentication successful");
    public static readonly SmtpReply AuthFailed = new(535, "5.7.8", "Error: authentication failed: authentication failure");
    public static readonly SmtpReply AuthTemporaryFailure = new(454, "4.7.0", "Temporary authentication failure: authentication database unavailable");
    public static readonly SmtpReply AuthAborted = new(501, "5.7.0", "Authentication aborted");
    public static readonly SmtpReply AuthCannotDecode = new(501, "5.5.2", "Cannot decode response");
    public static readonly SmtpReply AuthLineTooLong = new(500, "5.5.6", "Authentication exchange line is too long");
    public static readonly SmtpReply BadAuthParameter = new(501, "5.5.4", "Bad AUTH parameter syntax");
    /// <summary>RFC 4954 §4: <c>334</c> and a base64 challenge (empty for PLAIN).</summary>
    public static SmtpReply AuthChallenge(string base64) => Plain(334, base64);

    // Anything else the client may send.
    // DEVIATION: Postfix 3.x smtpd.c says "502 5.5.2 Error: command not recognized"; the Posthorn
    // issue statement asks for 500 (RFC 5321 §4.2.4: 500 is "command unrecognized").
    public static readonly SmtpReply CommandNotRecognized = new(500, "5.5.2", "Error: command not recognized");
    public static readonly SmtpReply BadSyntax = new(500, "5.5.2", "Error: bad syntax");
    public static readonly SmtpReply NonSmtpCommand = new(221, "2.7.0", "Error: I can break rules, too. Goodbye.");

    // Replies that end the session (Postfix hangs up after every 421 and 521 reply).
    public static SmtpReply TooManyErrors(string hostname) => new(421, "4.7.0", $"{hostname} Error: too many errors");
    public static SmtpReply TimeoutExceeded(string hostname) => new(421, "4.4.2", $"{hostname} Error: timeout exceeded");
    public static SmtpReply BareLfReceived(string hostname) => new(521, "5.5.2", $"{hostname} Error: bare <LF> received");
    /// <summary>DEVIATION: Postfix's smtpd exits without a word on "postfix stop"; RFC 5321 §3.8 asks for a 421 first.</summary>
    public static SmtpReply ShuttingDown(string hostname) => new(421, "4.3.2", $"{hostname} Service shutting down");
    /// <summary>Our own failure (a bug, the sink broke): transient, as C5 requires.</summary>
    public static SmtpReply LocalError(string hostname) => new(421, "4.3.0", $"{hostname} Error: internal error");

    /// <summary>True for the codes after which smtpd closes the connection (Postfix smtpd_chat.c: 421 and 521).</summary>
    public static bool EndsSession(SmtpReply reply) => reply.Code is 421 or 521;

    /// <summary>The reply as it goes on the wire, CRLF after each line. A text with LF in it
    /// becomes a multi-line reply (RFC 5321 §4.2.1: <c>code-text</c> on all lines but the last).</summary>
    public static string Format(SmtpReply reply)
    {
        var sb = new System.Text.StringBuilder();
        string code = reply.Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string status = HasEnhancedStatus(reply) ? reply.Status + " " : "";
        var lines = reply.Text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            sb.Append(code).Append(i == lines.Length - 1 ? ' ' : '-').Append(status)
              .Append(lines[i].TrimEnd('\r')).Append("\r\n");
        }
        return sb.ToString();
    }

    /// <summary>One line for the mail log: <c>554 5.7.1 text</c>, lines joined with a space.</summary>
    public static string ForLog(SmtpReply reply) =>
        HasEnhancedStatus(reply) ? $"{reply.Code} {reply.Status} {reply.Text.Replace('\n', ' ')}" : $"{reply.Code} {reply.Text.Replace('\n', ' ')}";
}
