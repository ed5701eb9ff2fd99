using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Qmgr;

/// <summary>notify_classes resource and software (postconf(5)): "Inform the postmaster of mail not delivered due to
/// resource problems" / "software problems", sent to error_notice_recipient.</summary>
/// <remarks>
/// A resource problem here is a file that cannot be written or read during delivery (the mailbox or the queue:
/// IOException, no permission); a software problem is a transport with no master.cf row ("mail transport
/// unavailable") or local(8) handing a recipient back to itself ("mail system configuration error").
/// DEVIATION: Postfix reports these classes from the programs that meet them (smtpd and the smtp client send a
/// session transcript); qmgr(8) has no such notice. Posthorn's queue manager sends one postmaster notice per message
/// and delivery round, with the deferred recipients and their reasons, from double_bounce_sender; a message that is
/// itself a postmaster notice never causes another.
/// Parameters: notify_classes, error_notice_recipient.
/// </remarks>
public sealed partial class QmgrService
{
    /// <summary>A recipient deferred because of a resource or software problem, for the postmaster notice.</summary>
    private sealed record Problem(bool Software, BouncedRecipient Recipient);

    /// <summary>Notes a resource (<paramref name="software"/> false) or software problem for <paramref name="t"/>.</summary>
    private static void NoteProblem(RoundContext c, Target t, bool software, EnhancedStatus dsn, string text) =>
        c.Round.Problem(new Problem(software, new BouncedRecipient(t.Address, t.OriginalRecipient, dsn, text, null, null)));

    /// <summary>After a round: the notify_classes resource/software notices to error_notice_recipient.</summary>
    private async Task NotifyProblemsAsync(QueuedMessage message, DeliveryRound round, Settings s, CancellationToken ct)
    {
        var problems = round.Problems;
        if (problems.Count == 0) return;
        var cfg = s.Config;
        var sender = message.Envelope.Sender;
        if (!sender.IsNull && string.Equals(sender.ToString(), DoubleBounceAddress(cfg).ToString(), StringComparison.OrdinalIgnoreCase))
            return;   // a postmaster notice does not report on itself
        var classes = NotifyClasses.From(cfg);
        foreach (var (software, kind) in new[] { (false, NoticeKind.PostmasterResource), (true, NoticeKind.PostmasterSoftware) })
        {
            if (!(software ? classes.Software : classes.Resource)) continue;
            var recipients = problems.Where(p => p.Software == software).Select(p => p.Recipient).ToList();
            if (recipients.Count == 0) continue;
            if (await QueuePostmasterNoticeAsync(message, recipients, kind, "error_notice_recipient", s, ct) is { } id)
                log.PostmasterErrorNotification(message.Id, id, software ? "software" : "resource");
        }
    }
}
