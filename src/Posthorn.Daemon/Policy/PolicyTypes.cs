using Posthorn.Core;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Policy;

/// <summary>What a restriction check is about: the session, and the envelope as far as it is known.</summary>
/// <param name="Command">The SMTP command being checked, for the log (<c>RCPT</c>, <c>DATA</c>).</param>
/// <param name="QueueId">The transaction's queue ID once the first recipient was accepted, else null (NOQUEUE).</param>
public sealed record PolicyRequest(SmtpSessionInfo Session, SmtpPath? Sender, SmtpPath? Recipient, string Command,
    QueueId? QueueId = null)
{
    /// <summary>Accepted recipients so far (policy attribute recipient_count, sent at DATA/END-OF-MESSAGE).</summary>
    public int RecipientCount { get; init; }
    /// <summary>MAIL FROM SIZE=, or the actual size at END-OF-MESSAGE; 0 when unknown (policy attribute size).</summary>
    public long Size { get; init; }
    /// <summary>Postfix smtpd.c SMTPD_FLAG_ILL_PIPELINING: earlier in this session the client sent commands ahead of
    /// time where that is not allowed (reject_unauth_pipelining).</summary>
    public bool ImproperPipelining { get; init; }
    /// <summary>The ETRN argument, for smtpd_etrn_restrictions (policy attribute etrn_domain); null otherwise.</summary>
    public string? EtrnDomain { get; init; }
}

/// <summary>The outcome of a check: a refusal, or acceptance possibly marked for HOLD or DISCARD.</summary>
/// <param name="Reply">The refusal to send, or null to accept.</param>
/// <param name="Hold">An access table said HOLD (Postfix: the message goes to the hold queue).</param>
/// <param name="Discard">An access table said DISCARD: accept, then throw the whole message away.</param>
/// <param name="ConfigurationError">The reply is 451 4.3.5 because a list names something unknown.</param>
public sealed record PolicyDecision(SmtpReply? Reply, bool Hold = false, bool Discard = false, bool ConfigurationError = false)
{
    /// <summary>access(5) PREPEND: header lines to put before the message's headers.</summary>
    public IReadOnlyList<string> Prepend { get; init; } = [];

    /// <summary>access(5) REDIRECT user@domain: send the message there instead of to its recipients.</summary>
    public string? Redirect { get; init; }

    /// <summary>access(5) FILTER transport:destination: the content filter for the message.</summary>
    public string? Filter { get; init; }

    public static readonly PolicyDecision Accept = new((SmtpReply?)null);
}

/// <summary>The result of one restriction or one list (Postfix SMTPD_CHECK_DUNNO / OK / REJECT).</summary>
internal enum Outcome { Dunno, Permit, Reject }

/// <summary>Which restriction list is running: gives the "X rejected" wording of a plain reject or defer.</summary>
/// <param name="ReplyClass">Postfix's reply_class: "Client host", "Helo command", "Sender address", …</param>
/// <param name="ReplyName">Postfix's reply_name: what is put between &lt;&gt;.</param>
internal readonly record struct Stage(string ParameterName, string ReplyClass, string ReplyName);

/// <summary>The state of one evaluation (Postfix's SMTPD_STATE fields defer_if_permit, defer_if_reject,
/// warn_if_reject, discard, saved flags), for one RCPT or DATA check.</summary>
internal sealed class Evaluation(PolicyRequest request)
{
    public PolicyRequest Request { get; } = request;
    public SmtpReply? DeferIfPermit { get; set; }
    public SmtpReply? DeferIfReject { get; set; }
    public bool WarnIfReject { get; set; }
    public bool Hold { get; set; }
    public bool Discard { get; set; }
    public List<string> Prepend { get; } = [];
    public string? Redirect { get; set; }
    public string? Filter { get; set; }
    public bool ConfigurationError { get; set; }
    public SmtpReply? Final { get; set; }
    public int Depth { get; set; }
    /// <summary>Postfix sender_rcptmap_checked: reject_unlisted_sender already looked the sender up in this check.</summary>
    public bool SenderTableChecked { get; set; }
    /// <summary>The unverified reverse client hostname (or "unknown") for check_reverse_client_hostname_access.</summary>
    public string? ReverseClientName { get; set; }
}
