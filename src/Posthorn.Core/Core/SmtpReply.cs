namespace Posthorn.Core;

/// <summary>One SMTP reply as a value: code, RFC 3463 enhanced status and text.</summary>
/// <remarks>Replies are never built from loose strings in handlers: every text Posthorn sends comes
/// from a catalogue (<c>SmtpReplies</c> in Posthorn.Smtp) so it matches Postfix's wording.</remarks>
public readonly record struct SmtpReply(short Code, EnhancedStatus Status, string Text)
{
    public SmtpReply(short code, string status, string text) : this(code, EnhancedStatus.Parse(status), text) { }

    public bool IsPositive => Code is >= 200 and < 400;
    public bool IsTransient => Code is >= 400 and < 500;
    public bool IsPermanent => Code >= 500;

    /// <summary>The reply as one line, without CRLF: <c>250 2.0.0 Ok</c>.</summary>
    public override string ToString() => $"{Code} {Status} {Text}";
}
