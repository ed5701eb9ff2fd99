using Posthorn.Config.Tables;
using Posthorn.Core;

namespace Posthorn.Daemon.Policy;

/// <summary>check_client_access, check_reverse_client_hostname_access, check_helo_access, check_sender_access,
/// check_recipient_access, check_etrn_access and the
/// access(5) actions their tables return.</summary>
public sealed partial class RestrictionEvaluator
{
    private enum AccessTarget { Client, Helo, Sender, Recipient, ReverseClient, Etrn }

    /// <summary>Postfix smtpd_null_access_lookup_key: the key looked up for the null sender.</summary>
    private const string NullAccessLookupKey = "<>";

    private async ValueTask<Outcome> CheckAccessAsync(Evaluation ev, string spec, AccessTarget target, CancellationToken ct)
    {
        var request = ev.Request;
        var session = request.Session;
        bool parent = restrictions.ParentMatchesSubdomains;
        string replyClass, replyName;
        IReadOnlyList<string> keys;
        switch (target)
        {
            case AccessTarget.Client:
                (replyClass, replyName) = ("Client host", session.ClientDescription);
                keys = ClientKeys(session.ClientName, session.AddressText, parent, spec);
                break;
            case AccessTarget.ReverseClient:
                // Postfix smtpd_check.c: check_namadr_access with the reverse name as the reply name.
                string reverse = ev.ReverseClientName ?? session.ClientName;
                (replyClass, replyName) = ("Client host", reverse);
                keys = ClientKeys(reverse, session.AddressText, parent, spec);
                break;
            case AccessTarget.Etrn:
                // Postfix postconf(5) check_etrn_access: the ETRN domain, looked up as a domain.
                if (request.EtrnDomain is not { Length: > 0 } etrn) return Outcome.Dunno;
                (replyClass, replyName) = ("Etrn command", etrn);
                keys = LookupKeys.ForDomain(etrn, parent);
                break;
            case AccessTarget.Helo:
                if (session.HeloName is not { Length: > 0 } helo) return Outcome.Dunno;
                (replyClass, replyName) = ("Helo command", helo);
                // Postfix access(5): an address literal is looked up as written, a name as a domain.
                keys = helo.StartsWith('[') ? [helo] : LookupKeys.ForDomain(helo, parent);
                break;
            case AccessTarget.Sender:
                if (request.Sender is not { } sender) return Outcome.Dunno;
                (replyClass, replyName) = ("Sender address", RelayAddress.Internal(sender));
                keys = sender.IsNull ? [NullAccessLookupKey]
                    : LookupKeys.ForAccessAddress(RelayAddress.Internal(sender), parent, restrictions.RecipientDelimiter);
                break;
            default:
                if (request.Recipient is not { } rcpt) return Outcome.Dunno;
                (replyClass, replyName) = ("Recipient address", RelayAddress.Internal(rcpt));
                keys = LookupKeys.ForAccessAddress(RelayAddress.Internal(rcpt), parent, restrictions.RecipientDelimiter);
                break;
        }
        string value;
        try
        {
            bool found = LookupKeys.TryFind([restrictions.Table(spec)], keys, out string foundKey, out value);
            Trace?.TableLookup(spec, keys, found ? foundKey : null, found ? value : null);
            if (!found)
                return Outcome.Dunno;
        }
        catch (LookupTableException e)
        {
            return LookupFailure(ev, replyName, $"{spec} lookup error: {e.Message}");
        }
        return await ApplyActionAsync(ev, value, new Stage("access", replyClass, replyName), ct);
    }

    /// <summary>Postfix access(5) CLIENT HOSTNAME/ADDRESS PATTERNS: the name and its parent domains (a name of
    /// "unknown" is not looked up), then the address and its shorter octet (IPv4) or field (IPv6) prefixes.</summary>
    private static List<string> ClientKeys(string name, string address, bool parent, string spec)
    {
        var keys = new List<string>();
        if (name != "unknown")
            keys.AddRange(LookupKeys.ForDomain(name, parent));
        keys.Add(address);
        // A cidr: table matches networks itself; a partial address such as "10.1" would parse as another address there.
        if (LookupTables.Split(spec).Type == "cidr")
            return keys;
        char separator = address.Contains(':') ? ':' : '.';
        for (int cut = address.LastIndexOf(separator); cut > 0; cut = address.LastIndexOf(separator, cut - 1))
        {
            string prefix = address[..cut].TrimEnd(':');
            if (prefix.Length > 0 && !keys.Contains(prefix)) keys.Add(prefix);
        }
        return keys;
    }

    /// <summary>Applies one access(5) result. <paramref name="stage"/> carries the reply class and name of the
    /// check that found it (a sender table hit reads "Sender address rejected" in any list).</summary>
    private async ValueTask<Outcome> ApplyActionAsync(Evaluation ev, string value, Stage stage, CancellationToken ct)
    {
        string v = value.Trim();
        int space = v.IndexOfAny([' ', '\t']);
        string command = space < 0 ? v : v[..space];
        string text = space < 0 ? "" : v[(space + 1)..].Trim();
        string upper = command.ToUpperInvariant();
        // Postfix access(5): "OK" or an all-numerical value accepts.
        if (upper == "OK" || (v.Length > 0 && v.All(char.IsAsciiDigit)))
            return Outcome.Permit;
        switch (upper)
        {
            case "DUNNO":
                return Outcome.Dunno;
            case "REJECT":
                return Reject(ev, AccessReply(restrictions.AccessMapRejectCode, text, "Access denied", stage));
            case "DEFER":
                return Reject(ev, AccessReply(restrictions.AccessMapDeferCode, text, "Access denied", stage));
            case "DEFER_IF_REJECT":
                ev.DeferIfReject ??= AccessReply(450, text, "Service unavailable", stage);
                return Outcome.Dunno;
            case "DEFER_IF_PERMIT":
                ev.DeferIfPermit ??= AccessReply(450, text, "Service unavailable", stage);
                return Outcome.Dunno;
            case "HOLD":
                ev.Hold = true;
                PolicyLog.WhatsUp(log, ev.Request, "hold", $"<{stage.ReplyName}>: {stage.ReplyClass} {(text.Length > 0 ? text : "triggers HOLD action")}");
                return Outcome.Dunno;
            case "DISCARD":
                // Postfix access(5): "Claim successful delivery and silently discard the message."
                ev.Discard = true;
                PolicyLog.WhatsUp(log, ev.Request, "discard", $"<{stage.ReplyName}>: {stage.ReplyClass} {(text.Length > 0 ? text : "triggers DISCARD action")}");
                return Outcome.Permit;
            case "WARN":
                PolicyLog.WhatsUp(log, ev.Request, "warn", text);
                return Outcome.Dunno;
            case "PREPEND":
                // Postfix access(5) PREPEND headername: headervalue: "Prepend the specified message header to
                // the message"; a value without a header name is ignored with a warning.
                if (!IsHeaderLine(text))
                {
                    log.Warning("smtpd", $"access table: PREPEND action without valid header text: \"{text}\"");
                    return Outcome.Dunno;
                }
                ev.Prepend.Add(text);
                return Outcome.Dunno;
            case "REDIRECT":
                // Postfix access(5) REDIRECT user@domain: "After the message is queued, send the message to the
                // specified address instead of the intended recipient(s)".
                if (text.Length == 0)
                {
                    log.Warning("smtpd", "access table: REDIRECT action without address");
                    return Outcome.Dunno;
                }
                ev.Redirect = text;
                PolicyLog.WhatsUp(log, ev.Request, "redirect", $"<{stage.ReplyName}>: {stage.ReplyClass} triggers REDIRECT {text}");
                return Outcome.Dunno;
            case "FILTER":
                // Postfix access(5) FILTER transport:destination: "After the message is queued, send the entire
                // message through the specified external content filter". The last FILTER wins.
                if (!text.Contains(':'))
                {
                    log.Warning("smtpd", $"access table: FILTER action without transport:destination: \"{text}\"");
                    return Outcome.Dunno;
                }
                ev.Filter = text;
                PolicyLog.WhatsUp(log, ev.Request, "filter", $"<{stage.ReplyName}>: {stage.ReplyClass} triggers FILTER {text}");
                return Outcome.Dunno;
        }
        // Postfix access(5): "4NN text" and "5NN text" reply with that code.
        if (command.Length == 3 && command[0] is '4' or '5' && command.All(char.IsAsciiDigit))
            return Reject(ev, AccessReply(short.Parse(command, System.Globalization.CultureInfo.InvariantCulture), text, "Access denied", stage));
        // Otherwise the value is a restriction list (a restriction name or a smtpd_restriction_classes name).
        return await EvaluateListAsync(ev, SplitList(v), stage, ct);
    }

    /// <summary>An access reply: the code, an RFC 3463 status taken from the text when it starts with one of the
    /// same class (access(5) "REJECT 5.7.0 text"), else X.7.1.</summary>
    private static SmtpReply AccessReply(short code, string text, string defaultText, Stage stage)
    {
        char cls = (char)('0' + code / 100);
        string dsn = $"{cls}.7.1";
        int space = text.IndexOf(' ');
        string first = space < 0 ? text : text[..space];
        if (first.Length > 0 && first[0] == cls && EnhancedStatus.TryParse(first, out _))
        {
            dsn = first;
            text = space < 0 ? "" : text[(space + 1)..].TrimStart();
        }
        return new SmtpReply(code, dsn, $"<{stage.ReplyName}>: {stage.ReplyClass} rejected: {(text.Length > 0 ? text : defaultText)}");
    }

    /// <summary>RFC 5322 §2.2: <c>name: value</c>, the name printable US-ASCII without ':'.</summary>
    private static bool IsHeaderLine(string text)
    {
        int colon = text.IndexOf(':');
        return colon > 0 && text[..colon].All(c => c is > ' ' and <= '~');
    }

    /// <summary>Splits a restriction list given as a table value: commas and white space separate.</summary>
    private static List<string> SplitList(string text) =>
        [.. text.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries)];
}
