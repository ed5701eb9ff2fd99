using System.Net;
using System.Net.Sockets;
using System.Text;
using Posthorn.Core;
using Posthorn.Mail.Outbound;

namespace Posthorn.Daemon.Policy;

/// <summary>The HELO and address syntax restrictions and reject_rbl_client.</summary>
public sealed partial class RestrictionEvaluator
{
    /// <summary>Postfix postconf(5) reject_invalid_helo_hostname: bad syntax or a name too long. Without a
    /// HELO there is nothing to check.</summary>
    private Outcome RejectInvalidHelo(Evaluation ev)
    {
        if (ev.Request.Session.HeloName is not { Length: > 0 } helo || IsValidHelo(helo))
            return Outcome.Dunno;
        return Reject(ev, new SmtpReply(restrictions.InvalidHostnameRejectCode, "5.5.2", $"<{helo}>: Helo command rejected: Invalid name"));
    }

    /// <summary>Postfix postconf(5) reject_non_fqdn_helo_hostname: not in fully-qualified domain form, as RFC
    /// requires. An address literal passes.</summary>
    private Outcome RejectNonFqdnHelo(Evaluation ev)
    {
        if (ev.Request.Session.HeloName is not { Length: > 0 } helo)
            return Outcome.Dunno;
        if (helo.StartsWith('[') ? IsValidAddressLiteral(helo) : IsFqdn(helo))
            return Outcome.Dunno;
        return Reject(ev, new SmtpReply(restrictions.NonFqdnRejectCode, "5.5.2", $"<{helo}>: Helo command rejected: need fully-qualified hostname"));
    }

    /// <summary>Postfix postconf(5) reject_non_fqdn_sender / reject_non_fqdn_recipient: the address's domain is
    /// not in fully-qualified form. The null sender is exempt.</summary>
    private Outcome RejectNonFqdnAddress(Evaluation ev, SmtpPath? address, string replyClass)
    {
        if (address is null || address.IsNull)
            return Outcome.Dunno;
        string domain = address.Domain;
        if (domain.StartsWith('[') ? IsValidAddressLiteral(domain) : IsFqdn(domain))
            return Outcome.Dunno;
        return Reject(ev, new SmtpReply(restrictions.NonFqdnRejectCode, "5.5.2", $"<{RelayAddress.Internal(address)}>: {replyClass} rejected: need fully-qualified address"));
    }

    private static bool IsFqdn(string name) => IsValidHostname(name) && name.TrimEnd('.').Contains('.');

    private static bool IsValidHelo(string helo) => helo.StartsWith('[') ? IsValidAddressLiteral(helo) : IsValidHostname(helo);

    /// <summary>Postfix valid_hostname(3): at most 255 characters, labels of letters, digits, '-' and '_' of at
    /// most 63 characters, no label starting or ending with '-', not all numeric; one trailing dot allowed.</summary>
    internal static bool IsValidHostname(string name)
    {
        string n = name.EndsWith('.') ? name[..^1] : name;
        if (n.Length is 0 or > 255)
            return false;
        bool nonNumeric = false;
        foreach (var label in n.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
                return false;
            foreach (char c in label)
            {
                if (char.IsAsciiLetter(c) || c is '-' or '_') nonNumeric = true;
                else if (!char.IsAsciiDigit(c)) return false;
            }
        }
        return nonNumeric;
    }

    /// <summary>RFC 5321 §4.1.3 address literal: <c>[d.d.d.d]</c> or <c>[IPv6:…]</c>.</summary>
    internal static bool IsValidAddressLiteral(string literal)
    {
        if (literal.Length < 3 || literal[0] != '[' || literal[^1] != ']')
            return false;
        string inner = literal[1..^1];
        if (inner.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase))
            return IPAddress.TryParse(inner[5..], out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6;
        // IPAddress.TryParse also takes "1.2.3" and "0x7f.1"; a literal needs four decimal octets.
        var parts = inner.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p) <= 255);
    }

    /// <summary>Postfix postconf(5) reject_rbl_client rbl_domain=d.d.d.d: the client's address, reversed, is
    /// looked up under the list's domain; an A record (equal to the filter, when one is given) rejects.</summary>
    private async ValueTask<Outcome> RejectRblClientAsync(Evaluation ev, string argument, CancellationToken ct)
    {
        if (dns is null)
            return Outcome.Dunno;
        int eq = argument.IndexOf('=');
        string domain = eq < 0 ? argument : argument[..eq];
        IPAddress? filter = null;
        if (eq >= 0 && !IPAddress.TryParse(argument[(eq + 1)..], out filter))
        {
            log.Warning("smtpd", $"reject_rbl_client: unsupported reply filter: {argument}");
            return ConfigError(ev);
        }
        var session = ev.Request.Session;
        var address = session.Client.Address.IsIPv4MappedToIPv6 ? session.Client.Address.MapToIPv4() : session.Client.Address;
        var answer = await dns.LookupAAsync($"{ReversedAddress(address)}.{domain}", ct);
        switch (answer.Status)
        {
            case DnsStatus.Ok when filter is null || answer.Records.Contains(filter):
                // Postfix default_rbl_reply: "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}".
                // DEVIATION: the TXT reason is not looked up (IDnsResolver has no TXT query).
                return Reject(ev, new SmtpReply(restrictions.RblRejectCode, "5.7.1",
                    $"Service unavailable; Client host [{session.AddressText}] blocked using {domain}"));
            case DnsStatus.TryAgain:
                // Postfix: a DNS list that cannot answer must not let mail in that it would have refused.
                log.Warning("smtpd", $"{domain}: RBL lookup error: {answer.Error}");
                ev.DeferIfPermit ??= new SmtpReply(450, "4.7.1",
                    $"<{session.ClientDescription}>: Client host rejected: Temporary lookup failure");
                return Outcome.Dunno;
            default:
                return Outcome.Dunno;
        }
    }

    /// <summary>The query name prefix of a DNS list: IPv4 octets reversed (RFC 5782 §2.1), IPv6 nibbles reversed (§2.4).</summary>
    internal static string ReversedAddress(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        var sb = new StringBuilder();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            for (int i = bytes.Length - 1; i >= 0; i--)
                sb.Append(bytes[i]).Append(i > 0 ? "." : "");
            return sb.ToString();
        }
        for (int i = bytes.Length - 1; i >= 0; i--)
            sb.Append("0123456789abcdef"[bytes[i] & 0xF]).Append('.').Append("0123456789abcdef"[bytes[i] >> 4]).Append(i > 0 ? "." : "");
        return sb.ToString();
    }
}
