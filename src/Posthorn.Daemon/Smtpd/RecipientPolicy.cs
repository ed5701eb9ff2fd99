using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Smtpd;

/// <summary>The RCPT TO decision as Postfix smtpd(8) makes it with smtpd_delay_reject = yes:
/// smtpd_client_restrictions first (delayed to RCPT TO), then smtpd_relay_restrictions, then
/// smtpd_recipient_restrictions, then the local recipient table.</summary>
/// <remarks>
/// The walking skeleton understands the restrictions the stock configuration and the assignment use:
/// permit, reject, defer, permit_mynetworks, permit_sasl_authenticated (the session logged in with AUTH),
/// reject_unauth_destination, defer_unauth_destination. A reject or defer names what the list is about:
/// "Client host rejected" in smtpd_client_restrictions, "Recipient address rejected" in the others. An unknown name is a configuration error and
/// Postfix answers it with a temporary failure ("451 4.3.5 Server configuration error"), never a permit.
/// Parameters: smtpd_client_restrictions, smtpd_relay_restrictions, smtpd_recipient_restrictions, mynetworks, mydestination,
/// relay_domains, local_recipient_maps.
/// </remarks>
public static class RecipientPolicy
{
    public static readonly SmtpReply ServerConfigurationError = new(451, "4.3.5", "Server configuration error");

    private enum Verdict { Dunno, Permit, Reply }

    public static SmtpReply? Evaluate(Settings s, SmtpSessionInfo session, SmtpPath rcpt, Func<string, bool> isLocalRecipient)
    {
        // Postfix smtpd_check.c: "<name[addr]>: Client host rejected: Access denied" for the client list.
        var (clientVerdict, clientReply) = EvaluateList(s, session, rcpt, s.ClientRestrictions, $"<{session.ClientDescription}>: Client host rejected");
        if (clientVerdict == Verdict.Reply) return clientReply;
        foreach (var list in (IReadOnlyList<string>[])[s.RelayRestrictions, s.RecipientRestrictions])
        {
            var (verdict, reply) = EvaluateList(s, session, rcpt, list, $"<{rcpt}>: Recipient address rejected");
            if (verdict == Verdict.Reply) return reply;
            // A permit ends this list only; the next list still runs (Postfix smtpd_relay_restrictions).
        }
        // Postfix smtpd_reject_unlisted_recipient: the local recipient table is checked after the lists.
        if (s.IsLocalDomain(rcpt.Domain) && s.LocalRecipientCheck && !isLocalRecipient(rcpt.LocalPart))
            return new SmtpReply(550, "5.1.1", $"<{rcpt}>: Recipient address rejected: User unknown in local recipient table");
        return null;
    }

    private static (Verdict, SmtpReply?) EvaluateList(Settings s, SmtpSessionInfo session, SmtpPath rcpt, IReadOnlyList<string> list,
        string rejected)
    {
        foreach (var name in list)
        {
            switch (name.ToLowerInvariant())
            {
                case "permit":
                    return (Verdict.Permit, null);
                case "reject":
                    return (Verdict.Reply, new SmtpReply(554, "5.7.1", $"{rejected}: Access denied"));
                case "defer":
                    return (Verdict.Reply, new SmtpReply(450, "4.7.1", $"{rejected}: Access denied"));
                case "permit_mynetworks":
                    if (s.MyNetworks.Contains(session.Client.Address)) return (Verdict.Permit, null);
                    break;
                case "permit_sasl_authenticated":
                    // Postfix postconf(5): permit when the client successfully authenticated (RFC 4954).
                    if (session.IsSaslAuthenticated) return (Verdict.Permit, null);
                    break;
                case "reject_unauth_destination":
                    if (!IsAuthorizedDestination(s, rcpt))
                        return (Verdict.Reply, new SmtpReply(554, "5.7.1", $"<{rcpt}>: Relay access denied"));
                    break;
                case "defer_unauth_destination":
                    if (!IsAuthorizedDestination(s, rcpt))
                        return (Verdict.Reply, new SmtpReply(454, "4.7.1", $"<{rcpt}>: Relay access denied"));
                    break;
                default:
                    return (Verdict.Reply, ServerConfigurationError);
            }
        }
        return (Verdict.Dunno, null);
    }

    /// <summary>Postfix postconf(5) reject_unauth_destination: the domain is in mydestination,
    /// inet_interfaces, proxy_interfaces, virtual_alias_domains, virtual_mailbox_domains or relay_domains.</summary>
    private static bool IsAuthorizedDestination(Settings s, SmtpPath rcpt) =>
        s.IsLocalDomain(rcpt.Domain) || s.IsRelayDomain(rcpt.Domain);
}
