using Posthorn.Core;

namespace Posthorn.Daemon.Policy;

/// <summary>smtpd_etrn_restrictions, reject_unauth_pipelining, check_reverse_client_hostname_access and the
/// smtpd_log_access_permit_actions log line.</summary>
public sealed partial class RestrictionEvaluator
{
    /// <summary>The ETRN decision (Postfix smtpd_check.c smtpd_check_etrn): with smtpd_delay_reject = yes the client
    /// and HELO lists run first, then smtpd_etrn_restrictions with the domain as reply name ("Etrn command
    /// rejected"), then a pending defer_if_permit. <see cref="PolicyRequest.EtrnDomain"/> carries the domain.</summary>
    public async ValueTask<PolicyDecision> CheckEtrnAsync(PolicyRequest request, CancellationToken ct)
    {
        var ev = new Evaluation(request);
        var session = request.Session;
        Stage[] stages =
        [
            new("smtpd_client_restrictions", "Client host", session.ClientDescription),
            new("smtpd_helo_restrictions", "Helo command", session.HeloName ?? ""),
            new("smtpd_etrn_restrictions", "Etrn command", request.EtrnDomain ?? ""),
        ];
        IReadOnlyList<string>[] lists = [restrictions.Client, restrictions.Helo, restrictions.Etrn];
        for (int i = 0; i < stages.Length; i++)
        {
            if (ev.Discard) break;
            if (await EvaluateListAsync(ev, lists[i], stages[i], ct) == Outcome.Reject)
                return Decide(ev);
        }
        return FinishPermit(ev);
    }

    /// <summary>Postfix postconf(5) reject_unauth_pipelining: "Reject the request when the client sends SMTP commands
    /// ahead of time where it is not allowed, or when the client sends SMTP commands ahead of time without knowing
    /// that Postfix actually supports ESMTP command pipelining." The session marks the request
    /// (<see cref="PolicyRequest.ImproperPipelining"/>); the reply is smtpd_check.c's "503 5.5.0".</summary>
    private Outcome RejectUnauthPipelining(Evaluation ev, Stage stage) =>
        ev.Request.ImproperPipelining
            ? Reject(ev, new SmtpReply(503, "5.5.0", $"<{stage.ReplyName}>: {stage.ReplyClass} rejected: Improper use of SMTP command pipelining"))
            : Outcome.Dunno;

    /// <summary>Postfix postconf(5) check_reverse_client_hostname_access type:table: the access table is searched
    /// with the unverified reverse client hostname (and its parent domains), then the client address. Because that
    /// name is not verified, an OK from the table is refused as a configuration error (smtpd_check.c
    /// forbid_allowlist: "this is not allowed for security reasons").</summary>
    private async ValueTask<Outcome> CheckReverseClientAccessAsync(Evaluation ev, string spec, CancellationToken ct)
    {
        var s = ev.Request.Session;
        string reverse = s.ClientName;
        // smtpd's client name is "unknown" also for a name that is not forward-confirmed: ask for the PTR itself.
        if (reverse == "unknown" && ReverseLookup is { } ptr)
            reverse = await ptr(s.Client.Address, ct) ?? "unknown";
        ev.ReverseClientName = reverse;
        var outcome = await CheckAccessAsync(ev, spec, AccessTarget.ReverseClient, ct);
        if (outcome == Outcome.Permit && !ev.Discard)
        {
            log.Warning("smtpd", $"restriction check_reverse_client_hostname_access returns OK for {reverse}");
            log.Warning("smtpd", "this is not allowed for security reasons");
            log.Warning("smtpd", "use DUNNO instead of OK if you want to make an exception");
            return ConfigError(ev);
        }
        return outcome;
    }

    /// <summary>Postfix smtpd_check.c smtpd_acl_permit: a permit restriction named in smtpd_log_access_permit_actions
    /// (or <c>static:all</c>) logs <c>permit: … action=NAME for CLASS=NAME</c>, unless a defer_if_permit overrules it.</summary>
    private void LogPermit(Evaluation ev, string name, Stage stage)
    {
        var actions = restrictions.LogAccessPermitActions;
        if (actions.Count == 0 || ev.DeferIfPermit is not null || !name.StartsWith("permit", StringComparison.Ordinal)
            || !(actions.Contains(name) || actions.Contains("static:all")))
            return;
        // The client permits name the client whatever the list; plain "permit" names the list's own subject.
        var (replyClass, replyName) = name == "permit" ? (stage.ReplyClass, stage.ReplyName) : ("Client host", ev.Request.Session.ClientDescription);
        PolicyLog.WhatsUp(log, ev.Request, "permit", $"action={name} for {replyClass}={replyName}");
    }
}
