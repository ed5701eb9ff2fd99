using Posthorn.Config.Tables;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;

namespace Posthorn.Daemon.Policy;

/// <summary>smtpd(8)'s access policy: the smtpd_*_restrictions lists, evaluated as Postfix's smtpd_check.c does
/// with smtpd_delay_reject = yes.</summary>
/// <remarks>
/// At RCPT TO the lists run in the order client, HELO, sender, relay, recipient (Postfix SMTPD_ACCESS_README
/// "Delayed evaluation of SMTP access restriction lists"). Within a list the first restriction that permits or
/// rejects decides; a permit ends only its own list and the next list still runs; a reject ends everything.
/// At DATA, smtpd_data_restrictions run alone; after the content, smtpd_end_of_data_restrictions run alone; at ETRN,
/// the client and HELO lists, then smtpd_etrn_restrictions (RestrictionEvaluator.Session.cs). defer_if_permit, defer_if_reject and warn_if_reject keep
/// Postfix's state across the lists of one check. An unknown restriction is a configuration error answered
/// with "451 4.3.5 Server configuration error", never a permit; a table that fails answers
/// "451 4.3.0 &lt;name&gt;: Temporary lookup failure".
/// Security: every input (HELO name, addresses, client name) comes from an untrusted client; table keys are
/// built from it but never interpreted; DNS list queries use only the client's numeric address.
/// Parameters: see <see cref="RestrictionSettings"/>, plus mynetworks, mydestination, relay_domains,
/// local_recipient_maps.
/// </remarks>
public sealed partial class RestrictionEvaluator(Settings settings, RestrictionSettings restrictions, IDnsResolver? dns,
    MailLog log, Func<string, bool> isLocalRecipient)
{
    /// <summary>An observer of every list, restriction and table lookup (RestrictionTrace.cs); null in smtpd.</summary>
    public IRestrictionTrace? Trace { get; init; }

    /// <summary>Postfix smtpd_check.c: the reply for a list that names an unknown restriction.</summary>
    public static readonly SmtpReply ServerConfigurationError = new(451, "4.3.5", "Server configuration error");

    /// <summary>Postfix limits nesting of restriction classes; deeper is a configuration error.</summary>
    private const int MaxDepth = 100;

    /// <summary>The RCPT TO decision: all five lists, then the local recipient table
    /// (smtpd_reject_unlisted_recipient), then a pending defer_if_permit.</summary>
    public async ValueTask<PolicyDecision> CheckRecipientAsync(PolicyRequest request, CancellationToken ct)
    {
        var ev = new Evaluation(request);
        var session = request.Session;
        var rcpt = request.Recipient!;
        Stage[] stages =
        [
            new("smtpd_client_restrictions", "Client host", session.ClientDescription),
            new("smtpd_helo_restrictions", "Helo command", session.HeloName ?? ""),
            // Postfix smtpd.c extract_addr: checks and replies use the internal (unquoted) form of an address.
            new("smtpd_sender_restrictions", "Sender address", request.Sender is { } sender ? RelayAddress.Internal(sender) : ""),
            new("smtpd_relay_restrictions", "Recipient address", RelayAddress.Internal(rcpt)),
            new("smtpd_recipient_restrictions", "Recipient address", RelayAddress.Internal(rcpt)),
        ];
        IReadOnlyList<string>[] lists =
            [restrictions.Client, restrictions.Helo, restrictions.Sender, restrictions.Relay, restrictions.Recipient];
        // Postfix smtpd_check_addr: a recipient that resolves to an invalid domain is refused before any list.
        if (!rcpt.IsNull && Relay.HasInvalidDomain(rcpt))
            return new PolicyDecision(RelayAddress.BadRecipientSyntax);
        for (int i = 0; i < stages.Length; i++)
        {
            // Postfix: once DISCARD was seen, the remaining checks are skipped and the mail is accepted.
            if (ev.Discard) break;
            if (await EvaluateListAsync(ev, lists[i], stages[i], ct) == Outcome.Reject)
                return Decide(ev);
            // Postfix smtpd_check.c smtpd_check_mail: "If the reject_unlisted_sender restriction still needs to be
            // applied, validate the sender here" (smtpd_reject_unlisted_sender), before the recipient lists.
            if (i == 2 && restrictions.RejectUnlistedSender && !ev.Discard && RejectUnlistedSender(ev) == Outcome.Reject)
                return Decide(ev);
        }
        // Postfix smtpd_reject_unlisted_recipient: the recipient tables are checked after the lists.
        try
        {
            // Postfix smtpd_check.c check_rcpt_maps: relocated_maps answers first, for a user who moved (and who
            // is usually gone from the recipient tables).
            if (!ev.Discard && Relocated(rcpt) is { } moved)
            {
                ev.Final = moved;
                return Decide(ev);
            }
            if (!ev.Discard && UnlistedRecipient(rcpt) is { } unknown)
            {
                ev.Final = unknown;
                return Decide(ev);
            }
        }
        catch (LookupTableException e)
        {
            LookupFailure(ev, RelayAddress.Internal(rcpt), $"{e.Table} lookup error: {e.Message}");
            return Decide(ev);
        }
        return FinishPermit(ev);
    }

    /// <summary>The DATA decision: smtpd_data_restrictions. Restrictions about the recipient see it only when
    /// the transaction has exactly one (Postfix smtpd_check_data).</summary>
    public async ValueTask<PolicyDecision> CheckDataAsync(PolicyRequest request, CancellationToken ct)
    {
        var ev = new Evaluation(request);
        if (await EvaluateListAsync(ev, restrictions.Data, new Stage("smtpd_data_restrictions", "Data command", "DATA"), ct)
            == Outcome.Reject)
            return Decide(ev);
        return FinishPermit(ev);
    }

    /// <summary>The end-of-data decision: smtpd_end_of_data_restrictions, once the content is in and before the final
    /// reply (Postfix smtpd_check_eod). As at DATA, restrictions about the recipient see it only when the transaction
    /// has exactly one; the reply wording is Postfix's <c>&lt;END-OF-MESSAGE&gt;: End-of-data rejected: …</c>, and
    /// <see cref="PolicyRequest.Size"/> is the actual size (SMTPD_POLICY_README).</summary>
    public async ValueTask<PolicyDecision> CheckEndOfDataAsync(PolicyRequest request, CancellationToken ct)
    {
        var ev = new Evaluation(request);
        if (restrictions.EndOfData.Count > 0 && await EvaluateListAsync(ev, restrictions.EndOfData,
                new Stage("smtpd_end_of_data_restrictions", "End-of-data", "END-OF-MESSAGE"), ct) == Outcome.Reject)
            return Decide(ev);
        return FinishPermit(ev);
    }

    private PolicyDecision FinishPermit(Evaluation ev)
    {
        // Postfix smtpd_check.c: "Force permission into deferral when some earlier temporary error may have
        // prevented us from rejecting mail."
        if (ev.DeferIfPermit is { } deferred)
        {
            ev.Final = deferred;
            return Decide(ev);
        }
        return new PolicyDecision(null, ev.Hold, ev.Discard)
        {
            Prepend = ev.Prepend,
            Redirect = ev.Redirect,
            Filter = ev.Filter,
        };
    }

    private static PolicyDecision Decide(Evaluation ev) =>
        new(ev.Final, ev.Hold, ev.Discard, ev.ConfigurationError);

    /// <summary>One restriction list: the first restriction that permits or rejects decides.</summary>
    private async ValueTask<Outcome> EvaluateListAsync(Evaluation ev, IReadOnlyList<string> list, Stage stage, CancellationToken ct)
    {
        if (++ev.Depth > MaxDepth)
        {
            log.Warning("smtpd", $"{stage.ParameterName}: restriction class nesting is too deep");
            return ConfigError(ev);
        }
        Trace?.ListStarted(stage.ParameterName, ev.Depth, list);
        // A warn_if_reject before a restriction class (or a table that returns a list) covers all of it.
        bool outerWarn = ev.WarnIfReject;
        try
        {
            bool warnNext = false;
            for (int i = 0; i < list.Count; i++)
            {
                // Postfix postconf(5) warn_if_reject: "change the meaning of the next restriction".
                ev.WarnIfReject = outerWarn || warnNext;
                warnNext = false;
                string name = list[i].ToLowerInvariant();
                if (name == "warn_if_reject")
                {
                    warnNext = true;
                    continue;
                }
                string? argument = null;
                if (TakesArgument(name))
                {
                    if (i + 1 >= list.Count)
                    {
                        log.Warning("smtpd", $"restriction {name} requires table or domain argument");
                        return ConfigError(ev);
                    }
                    argument = list[++i];
                }
                var outcome = await EvaluateOneAsync(ev, name, argument, stage, ct);
                Trace?.RestrictionDone(stage.ParameterName, ev.Depth, name, argument, (RestrictionResult)outcome, outcome == Outcome.Reject ? ev.Final : null);
                if (outcome == Outcome.Permit)
                    LogPermit(ev, name, stage);
                ev.WarnIfReject = outerWarn;
                if (outcome != Outcome.Dunno)
                    return outcome;
                if (ev.Discard)
                    return Outcome.Permit;
            }
            return Outcome.Dunno;
        }
        finally
        {
            ev.Depth--;
            ev.WarnIfReject = outerWarn;
        }
    }

    private static bool TakesArgument(string name) => name is "check_client_access" or "check_helo_access"
        or "check_sender_access" or "check_recipient_access" or "reject_rbl_client" or "check_policy_service"
        or "reject_rhsbl_client" or "reject_rhsbl_sender" or "reject_rhsbl_helo" or "reject_rhsbl_recipient"
        or "permit_dnswl_client" or "check_reverse_client_hostname_access" or "check_etrn_access";

    private async ValueTask<Outcome> EvaluateOneAsync(Evaluation ev, string name, string? argument, Stage stage, CancellationToken ct)
    {
        var request = ev.Request;
        var rcpt = request.Recipient;
        switch (name)
        {
            case "permit":
                return Outcome.Permit;
            case "reject":
                return Reject(ev, new SmtpReply(restrictions.RejectCode, "5.7.1", $"<{stage.ReplyName}>: {stage.ReplyClass} rejected: Access denied"));
            case "defer":
                return Reject(ev, new SmtpReply(restrictions.DeferCode, "4.7.1", $"<{stage.ReplyName}>: {stage.ReplyClass} rejected: Access denied"));
            case "defer_if_permit":
                // Postfix smtpd_check.c DEFER_IF_PERMIT2: remembered; applies only if the check ends in a permit.
                ev.DeferIfPermit ??= new SmtpReply(450, "4.7.0", $"<{stage.ReplyName}>: {stage.ReplyClass} rejected: defer_if_permit requested");
                return Outcome.Dunno;
            case "defer_if_reject":
                ev.DeferIfReject ??= new SmtpReply(450, "4.7.0", $"<{stage.ReplyName}>: {stage.ReplyClass} rejected: defer_if_reject requested");
                return Outcome.Dunno;
            case "permit_mynetworks":
                return settings.MyNetworks.Contains(request.Session.Client.Address) ? Outcome.Permit : Outcome.Dunno;
            case "permit_sasl_authenticated":
                // Postfix postconf(5): permit when the client successfully authenticated (RFC 4954).
                return request.Session.IsSaslAuthenticated ? Outcome.Permit : Outcome.Dunno;
            case "reject_unauth_destination":
                if (rcpt is null || IsAuthorizedDestination(rcpt)) return Outcome.Dunno;
                return Reject(ev, new SmtpReply(restrictions.RelayRejectCode, "5.7.1", $"<{RelayAddress.Internal(rcpt)}>: Relay access denied"));
            case "defer_unauth_destination":
                if (rcpt is null || IsAuthorizedDestination(rcpt)) return Outcome.Dunno;
                return Reject(ev, new SmtpReply(454, "4.7.1", $"<{RelayAddress.Internal(rcpt)}>: Relay access denied"));
            case "reject_unauth_pipelining":
                return RejectUnauthPipelining(ev, stage);
            case "reject_unknown_helo_hostname":
                return await RejectUnknownHeloAsync(ev, ct);
            case "reject_unknown_sender_domain":
                return await RejectUnknownAddressAsync(ev, request.Sender, sender: true, ct);
            case "reject_unknown_recipient_domain":
                return await RejectUnknownAddressAsync(ev, rcpt, sender: false, ct);
            case "reject_unlisted_sender":
                return RejectUnlistedSender(ev);
            case "permit_dnswl_client":
                return await PermitDnswlClientAsync(ev, argument!, ct);
            case "check_reverse_client_hostname_access":
                return await CheckReverseClientAccessAsync(ev, argument!, ct);
            case "check_etrn_access":
                return await CheckAccessAsync(ev, argument!, AccessTarget.Etrn, ct);
            case "reject_unlisted_recipient":
                return rcpt is not null && UnlistedRecipient(rcpt) is { } unknown ? Reject(ev, unknown) : Outcome.Dunno;
            case "reject_invalid_helo_hostname":
                return RejectInvalidHelo(ev);
            case "reject_non_fqdn_helo_hostname":
                return RejectNonFqdnHelo(ev);
            case "reject_non_fqdn_sender":
                return RejectNonFqdnAddress(ev, request.Sender, "Sender address");
            case "reject_non_fqdn_recipient":
                return RejectNonFqdnAddress(ev, rcpt, "Recipient address");
            case "check_client_access":
                return await CheckAccessAsync(ev, argument!, AccessTarget.Client, ct);
            case "check_helo_access":
                return await CheckAccessAsync(ev, argument!, AccessTarget.Helo, ct);
            case "check_sender_access":
                return await CheckAccessAsync(ev, argument!, AccessTarget.Sender, ct);
            case "check_recipient_access":
                return await CheckAccessAsync(ev, argument!, AccessTarget.Recipient, ct);
            case "reject_rbl_client":
                return await RejectRblClientAsync(ev, argument!, ct);
            case "reject_rhsbl_client" or "reject_rhsbl_sender" or "reject_rhsbl_helo" or "reject_rhsbl_recipient":
                return await RejectRhsblAsync(ev, name, argument!, ct);
            case "check_policy_service":
                return await CheckPolicyServiceAsync(ev, argument!, stage, ct);
            case "reject_unknown_client_hostname":
                return RejectUnknownClientHostname(ev);
            case "reject_unknown_reverse_client_hostname":
                return await RejectUnknownReverseClientHostnameAsync(ev, ct);
            case var login when SenderLoginCheck.Handles(login):   // smtpd_sender_login_maps (SenderLoginCheck.cs)
                var owned = SenderLoginCheck.Evaluate(login, request, restrictions, settings.IsLocalDomain);
                return owned.LookupError is { } error ? LookupFailure(ev, RelayAddress.Internal(request.Sender!), error)
                    : owned.Reject is { } refused ? Reject(ev, refused) : Outcome.Dunno;
        }
        if (restrictions.Classes.TryGetValue(name, out var classList))
            return await EvaluateListAsync(ev, classList, stage, ct);
        // Postfix smtpd_check.c: msg_warn("unknown smtpd restriction: \"%s\"") and a 4.3.5 deferral.
        log.Warning("smtpd", $"unknown smtpd restriction: \"{name}\"");
        return ConfigError(ev);
    }

    /// <summary>A restriction wants to reject: warn_if_reject turns it into a log line, defer_if_reject into a
    /// temporary refusal (Postfix smtpd_check_reject).</summary>
    private Outcome Reject(Evaluation ev, SmtpReply reply)
    {
        if (ev.WarnIfReject)
        {
            PolicyLog.WhatsUp(log, ev.Request, "reject_warning", reply.ToString());
            return Outcome.Dunno;
        }
        if (reply.IsPermanent && ev.DeferIfReject is { } deferred)
            reply = deferred;
        ev.Final = reply;
        return Outcome.Reject;
    }

    private static Outcome ConfigError(Evaluation ev)
    {
        ev.ConfigurationError = true;
        ev.Final = ServerConfigurationError;
        return Outcome.Reject;
    }

    /// <summary>Postfix's reject_dict_retry: a table that cannot answer defers the request.</summary>
    private Outcome LookupFailure(Evaluation ev, string replyName, string detail)
    {
        log.Warning("smtpd", detail);
        ev.Final = new SmtpReply(451, "4.3.0", $"<{replyName}>: Temporary lookup failure");
        return Outcome.Reject;
    }

    /// <summary>Postfix postconf(5) reject_unauth_destination: the resolved domain is in mydestination,
    /// inet_interfaces, proxy_interfaces, virtual_alias_domains, virtual_mailbox_domains or relay_domains, and the
    /// address has no sender-specified routing (RelayAddress.cs).</summary>
    private bool IsAuthorizedDestination(SmtpPath rcpt) => Relay.Resolve(rcpt).Authorized;

    private RelayAddress? _relay;
    private RelayAddress Relay => _relay ??= RelayAddress.For(settings, restrictions);
}
