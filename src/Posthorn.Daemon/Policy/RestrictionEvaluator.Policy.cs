using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Posthorn.Core;
using Posthorn.Mail.Outbound;

namespace Posthorn.Daemon.Policy;

/// <summary>check_policy_service (Postfix SMTPD_POLICY_README), the right-hand-side DNS lists and the client
/// host name checks.</summary>
public sealed partial class RestrictionEvaluator
{
    /// <summary>Postfix SMTPD_POLICY_README "Policy delegation protocol": the request is <c>name=value</c> lines and
    /// an empty line; the answer is <c>action=…</c> and an empty line, any access(5) action. A server that cannot
    /// be reached or answers garbage gets smtpd_policy_service_default_action. The connection is kept for later
    /// requests, of this session and others, up to smtpd_policy_service_max_idle/_max_ttl (<see cref="PolicyClient"/>).</summary>
    private async ValueTask<Outcome> CheckPolicyServiceAsync(Evaluation ev, string server, Stage stage, CancellationToken ct)
    {
        string? action;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(restrictions.PolicyServiceTimeout);
            action = await restrictions.PolicyClient.QueryAsync(server, PolicyAttributes(ev.Request), timeout.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or FormatException && !ct.IsCancellationRequested)
        {
            log.Warning("smtpd", $"problem talking to server {server}: {e.Message}");
            action = null;
        }
        if (action is null)
            return await ApplyActionAsync(ev, restrictions.PolicyServiceDefaultAction, stage, ct);
        return await ApplyActionAsync(ev, action, stage, ct);
    }

    /// <summary>The request attributes, in the order of SMTPD_POLICY_README.</summary>
    private static string PolicyAttributes(PolicyRequest r)
    {
        var s = r.Session;
        var sb = new StringBuilder();
        void Add(string name, string? value) => sb.Append(name).Append('=').Append(value ?? "").Append('\n');
        Add("request", "smtpd_access_policy");
        Add("protocol_state", r.Command);
        Add("protocol_name", s.Protocol);
        Add("helo_name", s.HeloName);
        Add("queue_id", r.QueueId?.ToString());
        Add("sender", r.Sender?.ToString());
        Add("recipient", r.Recipient?.ToString());
        // SMTPD_POLICY_README: recipient_count is non-zero only at the DATA and END-OF-MESSAGE stages (Postfix
        // smtpd_check.c sends state->rcpt_count there, 0 before).
        Add("recipient_count", (r.Command is "DATA" or "END-OF-MESSAGE" ? r.RecipientCount : 0).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Add("client_address", s.AddressText);
        Add("client_name", s.ClientName);
        Add("reverse_client_name", s.ClientName);
        // Postfix: "instance" is the same for all requests of one mail transaction.
        Add("instance", $"{RuntimeHelpers.GetHashCode(s):x}.{r.Sender}");
        Add("sasl_method", s.SaslMethod);
        Add("sasl_username", s.SaslUsername);
        Add("sasl_sender", "");
        // SMTPD_POLICY_README: size is the MAIL FROM SIZE= value (0 if none), the actual size at END-OF-MESSAGE.
        Add("size", r.Size.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Add("ccert_subject", "");
        Add("ccert_issuer", "");
        Add("ccert_fingerprint", "");
        Add("encryption_protocol", s.TlsProtocol);
        Add("encryption_cipher", s.TlsCipher);
        Add("encryption_keysize", s.IsTls ? s.TlsCipherBits.ToString(System.Globalization.CultureInfo.InvariantCulture) : "0");
        Add("etrn_domain", r.EtrnDomain);
        Add("stress", "");
        sb.Append('\n');
        return sb.ToString();
    }

    /// <summary>Postfix postconf(5) reject_rhsbl_client, reject_rhsbl_sender, reject_rhsbl_helo,
    /// reject_rhsbl_recipient: the domain name is looked up under the list's domain; an A record (equal to the
    /// filter, when one is given) rejects with default_rbl_reply.</summary>
    private async ValueTask<Outcome> RejectRhsblAsync(Evaluation ev, string name, string argument, CancellationToken ct)
    {
        if (dns is null)
            return Outcome.Dunno;
        var r = ev.Request;
        var (what, rblClass) = name switch
        {
            "reject_rhsbl_client" => (r.Session.ClientName == "unknown" ? null : r.Session.ClientName, "Client host"),
            "reject_rhsbl_helo" => (r.Session.HeloName, "Helo command"),
            "reject_rhsbl_sender" => (r.Sender is { IsNull: false } s ? s.Domain : null, "Sender address"),
            _ => (r.Recipient is { } rc ? rc.Domain : null, "Recipient address"),
        };
        // Nothing to look up: no name, an address literal, or an unqualified address.
        if (what is not { Length: > 0 } || what.StartsWith('['))
            return Outcome.Dunno;
        what = what.TrimEnd('.');
        int eq = argument.IndexOf('=');
        string domain = eq < 0 ? argument : argument[..eq];
        IPAddress? filter = null;
        if (eq >= 0 && !IPAddress.TryParse(argument[(eq + 1)..], out filter))
        {
            log.Warning("smtpd", $"{name}: unsupported reply filter: {argument}");
            return ConfigError(ev);
        }
        var answer = await dns.LookupAAsync($"{what}.{domain}", ct);
        switch (answer.Status)
        {
            case DnsStatus.Ok when filter is null || answer.Records.Contains(filter):
                // Postfix default_rbl_reply: "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain".
                return Reject(ev, new SmtpReply(restrictions.RblRejectCode, "5.7.1",
                    $"Service unavailable; {rblClass} [{what}] blocked using {domain}"));
            case DnsStatus.TryAgain:
                log.Warning("smtpd", $"{domain}: RHSBL lookup error: {answer.Error}");
                ev.DeferIfPermit ??= new SmtpReply(450, "4.7.1", $"<{what}>: {rblClass} rejected: Temporary lookup failure");
                return Outcome.Dunno;
            default:
                return Outcome.Dunno;
        }
    }

    /// <summary>Postfix postconf(5) reject_unknown_client_hostname: the client address has no name, or the name
    /// does not map back to the address (smtpd's client name is then "unknown").</summary>
    private Outcome RejectUnknownClientHostname(Evaluation ev)
    {
        var s = ev.Request.Session;
        if (s.ClientName != "unknown")
            return Outcome.Dunno;
        return Reject(ev, new SmtpReply(restrictions.UnknownClientRejectCode, UnknownClientStatus,
            $"Client host rejected: cannot find your hostname, [{s.AddressText}]"));
    }

    /// <summary>Postfix postconf(5) reject_unknown_reverse_client_hostname: the client address has no
    /// address-to-name mapping at all (a name that is not forward-confirmed still passes).</summary>
    private async ValueTask<Outcome> RejectUnknownReverseClientHostnameAsync(Evaluation ev, CancellationToken ct)
    {
        var s = ev.Request.Session;
        if (s.ClientName != "unknown")
            return Outcome.Dunno;
        // smtpd's client name is "unknown" also for a name that is not confirmed: ask for the PTR record itself.
        if (ReverseLookup is { } ptr && await ptr(s.Client.Address, ct) is { Length: > 0 })
            return Outcome.Dunno;
        return Reject(ev, new SmtpReply(restrictions.UnknownClientRejectCode, UnknownClientStatus,
            $"Client host rejected: cannot find your reverse hostname, [{s.AddressText}]"));
    }

    /// <summary>Postfix 3.x: enhanced status X.7.25 (RFC 7372 "reverse DNS validation failed") of the reply's class.</summary>
    private string UnknownClientStatus => $"{(char)('0' + restrictions.UnknownClientRejectCode / 100)}.7.25";

    /// <summary>The unverified reverse (PTR) name of an address, or null when there is none; used by
    /// reject_unknown_reverse_client_hostname when smtpd's client name is "unknown". Without it, "unknown" counts
    /// as no reverse name.</summary>
    public Func<IPAddress, CancellationToken, ValueTask<string?>>? ReverseLookup { get; init; }
}
