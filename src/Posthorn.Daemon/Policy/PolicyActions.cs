using Posthorn.Mail.Cleanup;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Policy;

/// <summary>Carries access(5) PREPEND, REDIRECT and FILTER results from smtpd's restriction checks to cleanup:
/// one <see cref="CleanupActions"/> per transaction, filled at each accepted RCPT TO.</summary>
public static class PolicyActions
{
    /// <summary>The actions of <paramref name="tx"/>, made on first use (a new transaction starts empty).</summary>
    public static CleanupActions For(ref (SmtpTransaction Tx, CleanupActions Actions)? slot, SmtpTransaction tx)
    {
        if (slot is { } s && ReferenceEquals(s.Tx, tx))
            return s.Actions;
        var actions = new CleanupActions();
        slot = (tx, actions);
        return actions;
    }

    /// <summary>Adds an accepted decision's actions. With smtpd_delay_reject the client, HELO and sender lists run
    /// again at every RCPT TO, so a PREPEND already present is not added twice.</summary>
    public static void Merge(ref (SmtpTransaction Tx, CleanupActions Actions)? slot, SmtpTransaction tx, PolicyDecision decision)
    {
        if (decision.Prepend.Count == 0 && decision.Redirect is null && decision.Filter is null)
            return;
        var actions = For(ref slot, tx);
        foreach (string header in decision.Prepend)
        {
            if (!actions.PrependHeaders.Contains(header, StringComparer.Ordinal))
                actions.PrependHeaders.Add(header);
        }
        if (decision.Redirect is { } redirect) actions.Redirect = redirect;
        if (decision.Filter is { } filter) actions.Filter = filter;
    }
}
