using Posthorn.Core;

namespace Posthorn.Mail.Queue;

/// <summary>A message's envelope as the queue file keeps it.</summary>
/// <param name="Sender">The envelope sender; <see cref="SmtpPath.Null"/> for bounces.</param>
/// <param name="Recipients">In queue file order; <see cref="QueueFile.MarkDone"/> takes an index into this list.</param>
/// <param name="ArrivalTime">When the message arrived (mailq's Arrival Time); kept to the microsecond.</param>
/// <param name="Attributes">Postfix's named attributes: <c>client_name</c>, <c>client_address</c>,
/// <c>helo_name</c>, <c>protocol</c>, <c>rewrite_context</c>, <c>log_ident</c>, <c>uid</c>, …
/// Names and values must not contain NUL; names must not contain '='.</param>
public sealed record QueueEnvelope(
    SmtpPath Sender,
    IReadOnlyList<QueueRecipient> Recipients,
    DateTimeOffset ArrivalTime,
    IReadOnlyDictionary<string, string> Attributes)
{
    /// <summary>An envelope without attributes.</summary>
    public QueueEnvelope(SmtpPath sender, IReadOnlyList<QueueRecipient> recipients, DateTimeOffset arrivalTime)
        : this(sender, recipients, arrivalTime, new Dictionary<string, string>()) { }

    /// <summary>Postfix named attribute <c>rewrite_context</c>: <c>local</c> or <c>remote</c>.</summary>
    public const string RewriteContextAttribute = "rewrite_context";
    /// <summary>sendmail(1)'s invoking user id, logged by pickup(8) as <c>uid=N</c>.</summary>
    public const string UidAttribute = "uid";
    /// <summary>sendmail -F: the sender's full name, used when cleanup adds a From: header.</summary>
    public const string SenderFullNameAttribute = "sender_fullname";
    /// <summary>sendmail -t: cleanup takes the recipients from To:, Cc: and Bcc: (value <c>yes</c>).</summary>
    public const string ExtractRecipientsAttribute = "extract_recipients";
    /// <summary>RFC 3461 §4.4 ENVID, decoded (Postfix's dsn_envid record).</summary>
    public const string DsnEnvelopeIdAttribute = "dsn_envid";
    /// <summary>RFC 3461 §4.3 RET: <c>FULL</c> or <c>HDRS</c> (Postfix's dsn_ret record).</summary>
    public const string DsnReturnAttribute = "dsn_ret";

    /// <summary>RFC 6531: the client gave MAIL FROM's SMTPUTF8 parameter (value <c>yes</c>; Postfix keeps the
    /// same fact as a flag of its queue file).</summary>
    public const string SmtpUtf8Attribute = "smtputf8";

    /// <summary>The sender asked for SMTPUTF8.</summary>
    public bool SmtpUtf8Requested => Attributes.TryGetValue(SmtpUtf8Attribute, out var v) && v == "yes";

    /// <summary>The sender's ENVID, or null.</summary>
    public string? DsnEnvelopeId => Attributes.TryGetValue(DsnEnvelopeIdAttribute, out var v) && v.Length > 0 ? v : null;

    /// <summary>RET=HDRS: a notice returns the header only. RET=FULL and no RET return the whole message.</summary>
    public bool DsnReturnHeadersOnly => Attributes.TryGetValue(DsnReturnAttribute, out var v) && v == "HDRS";
}

/// <summary>RFC 3461 §4.1 NOTIFY as the queue file keeps it; the bit values are Postfix's (dsn_mask.h).</summary>
[Flags]
public enum DsnNotifyFlags : byte
{
    /// <summary>No NOTIFY: failures are reported (and delays, where delay warnings exist).</summary>
    Unspecified = 0,
    Never = 1,
    Success = 2,
    Failure = 4,
    Delay = 8,
}

/// <summary>One envelope recipient.</summary>
/// <param name="Address">The recipient as it will be delivered to (<c>user@domain</c>).</param>
/// <param name="OriginalRecipient">The address as first given (RFC 3461 ORCPT, Postfix orig_to), when it differs.</param>
/// <param name="Done">Delivered or bounced: never tried again, not shown by mailq.</param>
/// <param name="Notify">RFC 3461 NOTIFY given with RCPT TO.</param>
/// <param name="DsnOriginalRecipient">RFC 3461 ORCPT as <c>addr-type;address</c>, decoded; null without one.</param>
public sealed record QueueRecipient(string Address, string? OriginalRecipient = null, bool Done = false,
    DsnNotifyFlags Notify = DsnNotifyFlags.Unspecified, string? DsnOriginalRecipient = null)
{
    /// <summary>A failure is reported unless NOTIFY says otherwise (RFC 3461 §4.1: absent NOTIFY means FAILURE, maybe DELAY).</summary>
    public bool NotifyOnFailure => Notify == DsnNotifyFlags.Unspecified || (Notify & DsnNotifyFlags.Failure) != 0;

    /// <summary>NOTIFY=SUCCESS: a successful delivery is reported to the sender.</summary>
    public bool NotifyOnSuccess => (Notify & DsnNotifyFlags.Success) != 0;
}

/// <summary>A queue file, read: its envelope, and its content on demand.</summary>
public sealed class QueuedMessage
{
    internal QueuedMessage(string path, QueueEnvelope envelope, long contentOffset, long contentLength)
    {
        Path = path;
        Id = new QueueId(System.IO.Path.GetFileName(path));
        Envelope = envelope;
        ContentOffset = contentOffset;
        ContentLength = contentLength;
    }

    /// <summary>The queue ID, which is the file name.</summary>
    public QueueId Id { get; }

    /// <summary>Where the file was read from.</summary>
    public string Path { get; }

    public QueueEnvelope Envelope { get; }

    /// <summary>Where the content starts in the file (postcat shows it).</summary>
    public long ContentOffset { get; }

    /// <summary>The size of the message content in bytes (header, empty line and body, LF line ends),
    /// which is the size mailq shows.</summary>
    public long ContentLength { get; }

    /// <summary>The message content only (no envelope), LF line ends; the caller disposes it.</summary>
    /// <exception cref="FileNotFoundException">The message left the queue since it was read.</exception>
    public Stream OpenContent()
    {
        var file = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new ContentStream(file, ContentOffset, ContentLength);
    }
}

/// <summary>A queue file that does not follow the format (truncated, bad magic, bad record).</summary>
/// <remarks>Postfix moves such files to the <c>corrupt</c> queue and logs a warning; so should callers.</remarks>
public sealed class QueueFileCorruptException(string path, string problem)
    : Exception($"{path}: corrupt queue file: {problem}")
{
    public string FilePath { get; } = path;
    public string Problem { get; } = problem;
}
