namespace Posthorn.Lmtp;

/// <summary>What lmtpd delivers through: the daemon implements it over the user database and the
/// delivery agents, so that the LMTP engine knows nothing of users, mailboxes or privileges.</summary>
public interface ILmtpDeliveryAgent
{
    /// <summary>The RCPT TO check: <see cref="LmtpReplies.RecipientOk"/>, or a refusal such as
    /// <see cref="LmtpReplies.UnknownUser"/> (550 5.1.1) or <see cref="LmtpReplies.TemporaryLookupFailure"/>.</summary>
    ValueTask<LmtpReply> CheckRecipientAsync(string recipient, CancellationToken ct);

    /// <summary>Delivers the message to one recipient accepted by <see cref="CheckRecipientAsync"/>;
    /// the reply is that recipient's line after DATA (RFC 2033 §4.2).</summary>
    ValueTask<LmtpReply> DeliverAsync(LmtpDelivery delivery, CancellationToken ct);
}

/// <summary>One recipient's delivery after DATA.</summary>
/// <param name="SessionId">The transaction's id, as logged by the session.</param>
/// <param name="Sender">The MAIL FROM address without brackets; empty for the null sender.</param>
/// <param name="Recipient">The RCPT TO address without brackets.</param>
/// <param name="OpenContent">Opens the message (a Received header first) from its start; may be called
/// again for each recipient.</param>
/// <param name="Arrival">When the DATA ended.</param>
public sealed record LmtpDelivery(string SessionId, string Sender, string Recipient, Func<Stream> OpenContent,
    DateTimeOffset Arrival);

/// <summary>One LMTP reply line: code, enhanced status (RFC 3463) and text.</summary>
public readonly record struct LmtpReply(int Code, string Status, string Text)
{
    public bool IsSuccess => Code is >= 200 and < 300;

    public override string ToString() => $"{Code} {Status} {Text}";
}

/// <summary>The replies lmtpd gives, in one place (STYLE C5). Texts follow Postfix smtpd where the
/// situation is the same, and Dovecot's lmtp where it is LMTP's own.</summary>
public static class LmtpReplies
{
    public static readonly LmtpReply Ok = new(250, "2.0.0", "Ok");
    public static readonly LmtpReply SenderOk = new(250, "2.1.0", "Ok");
    public static readonly LmtpReply RecipientOk = new(250, "2.1.5", "Ok");
    public static readonly LmtpReply StartData = new(354, "", "End data with <CR><LF>.<CR><LF>");
    public static readonly LmtpReply Bye = new(221, "2.0.0", "Bye");
    public static readonly LmtpReply UnknownCommand = new(500, "5.5.2", "Error: command not recognized");
    /// <summary>RFC 2033 §4.1: HELO and EHLO are not LMTP commands.</summary>
    public static readonly LmtpReply UseLhlo = new(500, "5.5.1", "Error: use LHLO in LMTP");
    public static readonly LmtpReply SyntaxError = new(501, "5.5.4", "Syntax error in parameters");
    public static readonly LmtpReply NeedLhlo = new(503, "5.5.1", "Error: send LHLO first");
    public static readonly LmtpReply NestedMail = new(503, "5.5.1", "Error: nested MAIL command");
    public static readonly LmtpReply NeedMail = new(503, "5.5.1", "Error: need MAIL command");
    public static readonly LmtpReply NeedRecipient = new(503, "5.5.1", "Error: need RCPT command");
    /// <summary>RFC 2033 §4.2: DATA without any accepted RCPT fails with 503.</summary>
    public static readonly LmtpReply NoValidRecipients = new(503, "5.5.1", "Error: no valid recipients");
    public static readonly LmtpReply TooManyRecipients = new(452, "4.5.3", "Error: too many recipients");
    public static readonly LmtpReply MessageTooBig = new(552, "5.3.4", "Error: message file too big");
    public static readonly LmtpReply TemporaryLookupFailure = new(451, "4.3.0", "Temporary user lookup failure");
    public static readonly LmtpReply LocalError = new(451, "4.3.0", "Error: queue file write error");
    public static readonly LmtpReply Timeout = new(421, "4.4.2", "Error: timeout exceeded");
    public static readonly LmtpReply LineTooLong = new(500, "5.5.2", "Error: line too long");

    /// <summary>Dovecot lmtp: <c>550 5.1.1 &lt;bob@example.com&gt; User doesn't exist: bob@example.com</c>.</summary>
    public static LmtpReply UnknownUser(string recipient) => new(550, "5.1.1", $"<{recipient}> User doesn't exist: {recipient}");

    /// <summary>The per-recipient success line after DATA.</summary>
    public static LmtpReply Delivered(string recipient, string id) => new(250, "2.0.0", $"<{recipient}> {id} Saved");
}
