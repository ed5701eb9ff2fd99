using System.Net;
using Posthorn.Config.Tables;
using Posthorn.Core;
using Posthorn.Mail.Outbound;

namespace Posthorn.Daemon.Policy;

/// <summary>The restrictions that ask the DNS whether a name exists (reject_unknown_helo_hostname,
/// reject_unknown_sender_domain, reject_unknown_recipient_domain) and the DNS allow list permit_dnswl_client.</summary>
/// <remarks>Security: the names come from an untrusted client; a name that is not a valid host name is never sent
/// to the DNS (Postfix dns_lookup refuses it as "not found").</remarks>
public sealed partial class RestrictionEvaluator
{
    private enum NameStatus { Found, NullMx, NotFound, TryAgain }

    /// <summary>Postfix postconf(5) reject_unknown_helo_hostname: "Reject the request when the HELO or EHLO hostname
    /// has no DNS address or MX record" with unknown_hostname_reject_code; a temporary DNS failure follows
    /// unknown_helo_hostname_tempfail_action. An address literal is only checked for syntax.</summary>
    private async ValueTask<Outcome> RejectUnknownHeloAsync(Evaluation ev, CancellationToken ct)
    {
        if (ev.Request.Session.HeloName is not { Length: > 0 } helo)
            return Outcome.Dunno;
        // Postfix smtpd_check.c: a HELO address literal goes to reject_invalid_hostaddr.
        if (helo.StartsWith('['))
            return IsValidAddressLiteral(helo) ? Outcome.Dunno
                : Reject(ev, new SmtpReply(restrictions.InvalidHostnameRejectCode, Dsn(restrictions.InvalidHostnameRejectCode, "5.2"),
                    $"<{helo}>: Helo command rejected: invalid ip address"));
        if (dns is null)
            return Outcome.Dunno;
        // Postfix smtpd_check.c reject_unknown_hostname: A, AAAA, then MX; "Allow MTA names to have nullMX records".
        var status = await LookupNameAsync(helo, mailDomain: false, ct);
        if (status is NameStatus.Found or NameStatus.NullMx)
            return Outcome.Dunno;
        string text = $"<{helo}>: Helo command rejected: Host not found";
        if (status == NameStatus.TryAgain)
            return TempFail(ev, restrictions.UnknownHeloTempfailDeferIfPermit, new SmtpReply(450, "4.7.1", text));
        short code = restrictions.UnknownHostnameRejectCode;
        return Reject(ev, new SmtpReply(code, Dsn(code, "7.1"), text));
    }

    /// <summary>Postfix postconf(5) reject_unknown_sender_domain / reject_unknown_recipient_domain: the address's
    /// domain has no MX, A or AAAA record, or a null MX (RFC 7505). Addresses in domains this host is the final
    /// destination for (mydestination, inet_interfaces, virtual alias and mailbox domains) and address literals are
    /// not looked up (smtpd_check.c reject_unknown_address: RESOLVE_CLASS_FINAL).</summary>
    private async ValueTask<Outcome> RejectUnknownAddressAsync(Evaluation ev, SmtpPath? address, bool sender, CancellationToken ct)
    {
        if (address is null || address.IsNull || dns is null)
            return Outcome.Dunno;
        string shown = RelayAddress.Internal(address);
        RelayResolution resolved;
        try
        {
            resolved = Relay.Resolve(address);
        }
        catch (LookupTableException e)
        {
            return LookupFailure(ev, shown, $"{e.Table} lookup error: {e.Message}");
        }
        string domain = resolved.Domain;
        if (domain.Length == 0 || resolved.Class is RelayDomainClass.Local or RelayDomainClass.Virtual || domain.StartsWith('['))
            return Outcome.Dunno;
        string replyClass = sender ? "Sender address" : "Recipient address";
        // Postfix smtpd_check.c reject_unknown_mailhost: MX first, then A and AAAA.
        var status = await LookupNameAsync(domain, mailDomain: true, ct);
        switch (status)
        {
            case NameStatus.Found:
                return Outcome.Dunno;
            case NameStatus.NullMx:
                // RFC 7505 §4.3 / Postfix: 550 5.7.27 for a sender domain, 556 5.1.10 for a recipient domain.
                return Reject(ev, sender
                    ? new SmtpReply(550, "5.7.27", $"<{shown}>: {replyClass} rejected: Domain {domain} does not accept mail (nullMX)")
                    : new SmtpReply(556, "5.1.10", $"<{shown}>: {replyClass} rejected: Domain {domain} does not accept mail (nullMX)"));
            case NameStatus.TryAgain:
                return TempFail(ev, restrictions.UnknownAddressTempfailDeferIfPermit,
                    new SmtpReply(450, sender ? "4.1.8" : "4.1.2", $"<{shown}>: {replyClass} rejected: Domain not found"));
            default:
                // RFC 3463: X.1.8 bad sender's system address, X.1.2 bad destination system address.
                short code = restrictions.UnknownAddressRejectCode;
                return Reject(ev, new SmtpReply(code, Dsn(code, sender ? "1.8" : "1.2"), $"<{shown}>: {replyClass} rejected: Domain not found"));
        }
    }

    /// <summary>Postfix smtpd_check.c DEFER_IF_PERMIT2: with the tempfail action defer_if_permit (and outside
    /// warn_if_reject) the deferral waits for a permit; with defer it is the reply now.</summary>
    private Outcome TempFail(Evaluation ev, bool deferIfPermit, SmtpReply reply)
    {
        if (deferIfPermit && !ev.WarnIfReject)
        {
            ev.DeferIfPermit ??= reply;
            return Outcome.Dunno;
        }
        return Reject(ev, reply);
    }

    /// <summary>Whether <paramref name="name"/> exists for mail (Postfix dns_lookup_l with STOP_OK): a mail domain
    /// asks MX, A, AAAA; a host name A, AAAA, MX. The first record found answers; otherwise a temporary failure of
    /// any query makes the whole answer temporary.</summary>
    private async ValueTask<NameStatus> LookupNameAsync(string name, bool mailDomain, CancellationToken ct)
    {
        if (!IsValidHostname(name))
            return NameStatus.NotFound;
        bool tryAgain = false;
        for (int step = 0; step < 3; step++)
        {
            int kind = mailDomain ? step : (step + 1) % 3;   // 0 MX, 1 A, 2 AAAA
            DnsStatus status;
            if (kind == 0)
            {
                var mx = await dns!.LookupMxAsync(name, ct);
                status = mx.Status;
                // RFC 7505 §3: a domain that accepts no mail publishes one MX record with the root as exchange.
                if (status == DnsStatus.Ok)
                    return mx.Records.All(r => r.IsNullMx) ? NameStatus.NullMx : NameStatus.Found;
            }
            else
            {
                var answer = kind == 1 ? await dns!.LookupAAsync(name, ct) : await dns!.LookupAaaaAsync(name, ct);
                status = answer.Status;
                if (status == DnsStatus.Ok)
                    return NameStatus.Found;
            }
            tryAgain |= status == DnsStatus.TryAgain;
        }
        return tryAgain ? NameStatus.TryAgain : NameStatus.NotFound;
    }

    /// <summary>Postfix postconf(5) permit_dnswl_client dnswl_domain=d.d.d.d: "Accept the request when the reversed
    /// client network address is listed with the A record "d.d.d.d" under dnswl_domain". For safety it never permits
    /// a RCPT TO that reject_unauth_destination would refuse (smtpd_check.c permit_dnswl_addr: "don't allowlist
    /// unauthorized recipients"). A list that cannot answer turns a later reject into "450 4.7.1 … Service
    /// unavailable" (defer_if_reject).</summary>
    private async ValueTask<Outcome> PermitDnswlClientAsync(Evaluation ev, string argument, CancellationToken ct)
    {
        var r = ev.Request;
        if (!TryParseDnsList(argument, out string domain, out IPAddress? filter))
        {
            log.Warning("smtpd", $"permit_dnswl_client: unsupported reply filter: {argument}");
            return ConfigError(ev);
        }
        if (r.Command == "RCPT" && r.Recipient is { } rcpt)
        {
            try
            {
                if (!IsAuthorizedDestination(rcpt))
                    return Outcome.Dunno;
            }
            catch (LookupTableException e)
            {
                return LookupFailure(ev, RelayAddress.Internal(rcpt), $"{e.Table} lookup error: {e.Message}");
            }
        }
        if (dns is null)
            return Outcome.Dunno;
        var session = r.Session;
        var client = session.Client.Address.IsIPv4MappedToIPv6 ? session.Client.Address.MapToIPv4() : session.Client.Address;
        var answer = await dns.LookupAAsync($"{ReversedAddress(client)}.{domain}", ct);
        switch (answer.Status)
        {
            case DnsStatus.Ok when filter is null || answer.Records.Contains(filter):
                return Outcome.Permit;
            case DnsStatus.TryAgain:
                log.Warning("smtpd", $"{ReversedAddress(client)}.{domain}: RBL lookup error: {answer.Error}");
                ev.DeferIfReject ??= new SmtpReply(450, "4.7.1", $"<{session.AddressText}>: Client host rejected: Service unavailable");
                return Outcome.Dunno;
            default:
                return Outcome.Dunno;
        }
    }

    /// <summary>A DNS list argument <c>domain[=d.d.d.d]</c>.</summary>
    private static bool TryParseDnsList(string argument, out string domain, out IPAddress? filter)
    {
        int eq = argument.IndexOf('=');
        domain = eq < 0 ? argument : argument[..eq];
        filter = null;
        return eq < 0 || IPAddress.TryParse(argument[(eq + 1)..], out filter);
    }

    /// <summary>An RFC 3463 status whose class follows the reply code (Postfix smtpd_check_reject: "enforce consistency
    /// between the SMTP code and DSN code").</summary>
    private static string Dsn(short code, string subjectDetail) => $"{code / 100}.{subjectDetail}";
}
