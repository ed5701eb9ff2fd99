using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Daemon.Policy;
using Posthorn.Logging;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Smtpd;

/// <summary>The RCPT TO decision without DNS lists, as one synchronous call: a thin entry over
/// <see cref="RestrictionEvaluator"/> (smtpd_delay_reject = yes: client, HELO, sender, relay and recipient
/// restrictions, then the local recipient table).</summary>
/// <remarks>The restrictions that need the DNS (reject_rbl_client, reject_rhsbl_*, reject_unknown_helo_hostname,
/// reject_unknown_sender_domain, reject_unknown_recipient_domain, permit_dnswl_client) give no decision here (no
/// resolver); smtpd uses <see cref="RestrictionEvaluator"/> directly.</remarks>
public static class RecipientPolicy
{
    public static readonly SmtpReply ServerConfigurationError = RestrictionEvaluator.ServerConfigurationError;

    /// <summary>The refusal for <paramref name="rcpt"/>, or null to accept.</summary>
    public static SmtpReply? Evaluate(Settings s, SmtpSessionInfo session, SmtpPath rcpt, Func<string, bool> isLocalRecipient,
        SmtpPath? sender = null)
    {
        var evaluator = new RestrictionEvaluator(s, s.Restrictions, dns: null, MailLog.Discard, isLocalRecipient);
        var pending = evaluator.CheckRecipientAsync(new PolicyRequest(session, sender, rcpt, "RCPT"), CancellationToken.None);
        // Without a resolver nothing awaits I/O, so the task has already completed.
        return pending.AsTask().GetAwaiter().GetResult().Reply;
    }
}
