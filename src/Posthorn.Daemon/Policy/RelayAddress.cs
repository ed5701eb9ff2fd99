using System.Net;
using System.Net.Sockets;
using System.Text;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Daemon.Qmgr;

namespace Posthorn.Daemon.Policy;

/// <summary>How a recipient domain counts for the relay decision (Postfix resolve.c address classes).</summary>
public enum RelayDomainClass
{
    /// <summary>mydestination, or an address literal of this host (inet_interfaces, proxy_interfaces).</summary>
    Local,
    /// <summary>virtual_alias_domains or virtual_mailbox_domains: final delivery here.</summary>
    Virtual,
    /// <summary>relay_domains.</summary>
    Relay,
    /// <summary>Anything else: another site's mail.</summary>
    Remote,
}

/// <summary>The options of trivial-rewrite(8) that change where an address goes.</summary>
/// <param name="MyOrigin">myorigin, appended to an address that has no domain left (append_at_myorigin).</param>
/// <param name="MyHostname">myhostname, the domain of an address whose local domains were all stripped.</param>
/// <param name="MyDomain">mydomain, for append_dot_mydomain.</param>
public sealed record RelayAddressOptions(
    bool PercentHack = true, bool SwapBangpath = true, bool ResolveDequoted = true, bool ResolveNullDomain = false,
    bool ResolveNumericDomain = false, bool AllowUntrustedRouting = false, bool AppendAtMyOrigin = true,
    bool AppendDotMyDomain = false, string MyOrigin = "localhost", string MyHostname = "localhost", string MyDomain = "localdomain")
{
    /// <summary>The options of <paramref name="cfg"/>.</summary>
    public static RelayAddressOptions From(ConfigSnapshot cfg)
    {
        return new RelayAddressOptions(
            PercentHack: cfg.GetBool("allow_percent_hack"),
            SwapBangpath: cfg.GetBool("swap_bangpath"),
            ResolveDequoted: cfg.GetBool("resolve_dequoted_address"),
            ResolveNullDomain: cfg.GetBool("resolve_null_domain"),
            ResolveNumericDomain: cfg.GetBool("resolve_numeric_domain"),
            AllowUntrustedRouting: cfg.GetBool("allow_untrusted_routing"),
            AppendAtMyOrigin: cfg.GetBool("append_at_myorigin"),
            AppendDotMyDomain: cfg.GetBool("append_dot_mydomain"),
            MyOrigin: cfg.Get("myorigin"),
            MyHostname: cfg.Get("myhostname"),
            MyDomain: cfg.Get("mydomain"));
    }
}

/// <summary>Where an address really goes once trivial-rewrite has taken it apart.</summary>
/// <param name="Recipient">The resolved address (internal, unquoted form), e.g. <c>user@other</c> for
/// <c>user%other@local</c>.</param>
/// <param name="Domain">Its domain, lower case, without a trailing dot.</param>
/// <param name="Class">The class of <see cref="Domain"/>.</param>
/// <param name="Routed">The local part still holds a routing operator (<c>@ ! %</c>): sender-specified routing.</param>
/// <param name="SyntaxError">The domain is not a valid host name or address literal.</param>
/// <param name="Authorized">postconf(5) permit_auth_destination would permit it.</param>
public readonly record struct RelayResolution(string Recipient, string Domain, RelayDomainClass Class, bool Routed,
    bool SyntaxError, bool Authorized);

/// <summary>trivial-rewrite(8) resolve, as far as smtpd(8)'s relay decision needs it: which domain an envelope
/// recipient reaches after the local domains are stripped and the routing operators of its local part
/// (<c>%</c>, <c>!</c>, a quoted <c>@</c>, a source route) are applied, and whether the address carries
/// sender-specified routing.</summary>
/// <remarks>
/// Postfix postconf(5) permit_auth_destination: "the resolved RCPT TO domain matches $mydestination,
/// $inet_interfaces, $proxy_interfaces, $virtual_alias_domains, or $virtual_mailbox_domains, and the address
/// contains no sender-specified routing (user@elsewhere@domain)", or matches $relay_domains with the same
/// condition. The loop below follows trivial-rewrite's resolve: strip every local domain from the right, then
/// rewrite the rest to canonical form (source route stripped, <c>site!user</c> swapped when swap_bangpath,
/// <c>user%site</c> made <c>user@site</c> when allow_percent_hack, @$myorigin appended) and start again; a
/// quoted local part is opened when resolve_dequoted_address says so. So <c>user%other@local</c>,
/// <c>other!user@local</c>, <c>"user@other"@local</c> and <c>user@other@local</c> all resolve to
/// <c>user@other</c> and are relayed only where <c>other</c> may be; with the hacks turned off they stay local but
/// keep an operator in the local part and are "routed", which allow_untrusted_routing = no refuses as well.
/// Security: the input is an untrusted client's address; the loop is bounded by the address length.
/// Parameters: allow_percent_hack, swap_bangpath, resolve_dequoted_address, resolve_null_domain,
/// resolve_numeric_domain, allow_untrusted_routing, append_at_myorigin, append_dot_mydomain, myorigin,
/// myhostname, mydomain, mydestination, inet_interfaces, virtual_alias_domains, virtual_mailbox_domains,
/// relay_domains.
/// </remarks>
public sealed class RelayAddress(RelayAddressOptions options, Func<string, RelayDomainClass> classify)
{
    /// <summary>Postfix smtpd_check_addr: the reply to a recipient whose resolved domain is not valid.</summary>
    public static readonly SmtpReply BadRecipientSyntax = new(501, "5.1.3", "Bad recipient address syntax");

    public RelayAddressOptions Options => options;

    /// <summary>The resolver of smtpd's configuration: domain classes as the restriction engine sees them.</summary>
    public static RelayAddress For(Settings settings, RestrictionSettings restrictions) =>
        new(RelayAddressOptions.From(restrictions.Config), domain =>
            settings.IsLocalDomain(domain) || (domain.StartsWith('[') && settings.Router.Resolve("postmaster@" + domain).Class == AddressClass.Local)
                ? RelayDomainClass.Local
                : restrictions.IsVirtualAliasDomain(domain) || settings.Virtual.IsVirtualDomain(domain) ? RelayDomainClass.Virtual
                : settings.IsRelayDomain(domain) ? RelayDomainClass.Relay
                : RelayDomainClass.Remote);

    /// <summary>Resolves an envelope recipient as smtpd received it (the local part possibly quoted).</summary>
    /// <exception cref="Posthorn.Config.Tables.LookupTableException">A domain table failed.</exception>
    public RelayResolution Resolve(SmtpPath recipient) =>
        Resolve(recipient.Domain.Length == 0 ? Unquote(recipient.LocalPart) : Unquote(recipient.LocalPart) + "@" + recipient.Domain);

    /// <summary>Postfix smtpd_check_addr: whether <paramref name="recipient"/> resolves to a domain that is neither a
    /// valid host name nor an address literal ("501 5.1.3 Bad recipient address syntax"). A domain table that
    /// fails leaves the question to the restriction lists, which defer.</summary>
    public bool HasInvalidDomain(SmtpPath recipient)
    {
        try
        {
            return Resolve(recipient).SyntaxError;
        }
        catch (Posthorn.Config.Tables.LookupTableException)
        {
            return false;
        }
    }

    /// <summary>Resolves an address in internal (unquoted) form, e.g. <c>user@other@local</c>.</summary>
    /// <exception cref="Posthorn.Config.Tables.LookupTableException">A domain table failed.</exception>
    public RelayResolution Resolve(string address)
    {
        var a = Split(address);
        string? savedDomain = null;
        // Postfix resolve.c gives up after (length + 100) rounds; each round here removes or rewrites something.
        for (int round = 0; round < address.Length + 100; round++)
        {
            if (a.Domain is { } d)
            {
                // Postfix resolve.c: "Strip trailing dot at end of domain, but not dot-dot or at-dot."
                if (d.Length > 1 && d[^1] == '.' && d[^2] != '.') a = a with { Domain = d = d[..^1] };
                // postconf(5) resolve_null_domain: "user@" is taken as the local host instead of being invalid.
                if (d.Length == 0 && options.ResolveNullDomain) a = a with { Domain = null };
            }
            if (a.Domain is { } domain)
            {
                if (domain.Length == 0 || classify(domain.ToLowerInvariant()) != RelayDomainClass.Local)
                    break;   // a remote domain (or none usable): resolution ends here
                savedDomain = domain;
                a = a with { Domain = null };
            }
            string local = a.Local;
            // After the local domain is gone: user%site, site!user and @route:user are rewritten and tried again.
            if (!a.Quoted && (local.Contains('@') || (options.SwapBangpath && local.Contains('!'))
                || (options.PercentHack && local.Contains('%'))))
            {
                a = Canonical(local);
                continue;
            }
            // postconf(5) resolve_dequoted_address: "look inside quoted strings for routing operators"
            // ("user@domain"@localhost), so that a quoted @ cannot slip another domain past the relay check.
            if (a.Quoted && options.ResolveDequoted)
            {
                int op = local.LastIndexOf('@');
                if (op < 0 && options.PercentHack) op = local.LastIndexOf('%');
                if (op < 0 && options.SwapBangpath) op = local.LastIndexOf('!');
                if (op >= 0)
                {
                    if (local[op] == '%') local = string.Concat(local.AsSpan(0, op), "@", local.AsSpan(op + 1));
                    a = Canonical(local);
                    continue;
                }
            }
            break;
        }
        string resolvedDomain = a.Domain ?? savedDomain ?? options.MyHostname;
        string recipient = a.Local + "@" + resolvedDomain;
        return Decide(recipient, a.Local, resolvedDomain.ToLowerInvariant());
    }

    private RelayResolution Decide(string recipient, string local, string domain)
    {
        // Postfix resolve.c: a bare network address is invalid unless resolve_numeric_domain; a literal must be
        // [d.d.d.d] or [IPv6:…]; anything else must be a valid host name.
        bool error = false;
        if (domain.StartsWith('['))
        {
            error = !RestrictionEvaluator.IsValidAddressLiteral(domain);
        }
        else if (!IsValidHostname(domain))
        {
            error = true;
            if (options.ResolveNumericDomain && IPAddress.TryParse(domain, out var ip)
                && (ip.AddressFamily == AddressFamily.InterNetworkV6 || domain.Count(c => c == '.') == 3))
            {
                domain = ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[IPv6:{domain}]" : $"[{domain}]";
                recipient = local + "@" + domain;
                error = false;
            }
        }
        // Postfix resolve.c: "Recognize routing operators in the local-part, even when we do not recognize ! or %
        // as valid routing operators locally" — the next MX host may.
        bool routed = local.AsSpan().IndexOfAny("@!%") >= 0;
        var cls = error ? RelayDomainClass.Remote : classify(domain);
        // Postfix smtpd_check.c permit_auth_destination: routed mail is never an authorized destination unless
        // allow_untrusted_routing; otherwise the final and relay classes are.
        bool authorized = !error && (options.AllowUntrustedRouting || !routed) && cls != RelayDomainClass.Remote;
        return new RelayResolution(recipient, domain, cls, routed, error, authorized);
    }

    /// <summary>trivial-rewrite(8) rewrite to canonical form: strip a source route, swap a bang path, apply the
    /// percent hack, then append @$myorigin (and .$mydomain) to what has no domain.</summary>
    private Parsed Canonical(string s)
    {
        // RFC 5321 Appendix C / Postfix rewrite.c: "@a,@b:user@c" loses its route.
        if (s.StartsWith('@') && s.IndexOf(':') is var colon and > 0 && colon < s.Length - 1)
            s = s[(colon + 1)..];
        if (!s.Contains('@'))
        {
            // postconf(5) swap_bangpath: "site!user" becomes "user@site" (the first '!').
            int bang = s.IndexOf('!');
            if (options.SwapBangpath && bang >= 0)
                s = s[(bang + 1)..] + "@" + s[..bang];
            // postconf(5) allow_percent_hack: "user%domain" becomes "user@domain" (the last '%').
            else if (options.PercentHack && s.LastIndexOf('%') is var pct and >= 0)
                s = string.Concat(s.AsSpan(0, pct), "@", s.AsSpan(pct + 1));
        }
        if (!s.Contains('@') && options.AppendAtMyOrigin)
            s = s + "@" + options.MyOrigin;
        var parsed = Split(s);
        // postconf(5) append_dot_mydomain: "user@host" becomes "user@host.$mydomain".
        if (options.AppendDotMyDomain && parsed.Domain is { Length: > 0 } d && !d.Contains('.') && !d.StartsWith('['))
            parsed = parsed with { Domain = d + "." + options.MyDomain };
        return parsed;
    }

    /// <summary>An address as Postfix's tokenizer sees it after quote_822_local: a local part that is not a
    /// dot-string becomes one quoted-string token, whose operators are hidden; the rightmost '@' is the domain's.</summary>
    private readonly record struct Parsed(string Local, bool Quoted, string? Domain);

    private static Parsed Split(string address)
    {
        int at = address.LastIndexOf('@');
        if (at < 0)
            return new Parsed(address, NeedsQuotes(address) && address.Length > 0, null);
        string local = address[..at];
        // A leading '@' is a route ("@a:user"), left as operators for the canonical rewrite to strip.
        return new Parsed(local, at > 0 && NeedsQuotes(local), address[(at + 1)..]);
    }

    /// <summary>RFC 5322 §3.4.1: a local part that is not a dot-atom must be quoted (Postfix quote_822_local).</summary>
    private static bool NeedsQuotes(string local)
    {
        if (local.Length == 0 || local[0] == '.' || local[^1] == '.' || local.Contains(".."))
            return true;
        foreach (char c in local)
        {
            if (c <= ' ' || c == 127 || "()<>@,;:\\\"[]".Contains(c))
                return true;
        }
        return false;
    }

    /// <summary>Postfix smtpd.c extract_addr: the address in internal form (quotes removed, <c>"user@other"@local</c>
    /// becomes <c>user@other@local</c>), which smtpd's checks, table lookups and reply texts use.</summary>
    public static string Internal(SmtpPath path) =>
        path.IsNull ? "" : path.Domain.Length == 0 ? Unquote(path.LocalPart) : Unquote(path.LocalPart) + "@" + path.Domain;

    /// <summary>RFC 5321 §4.1.2 Quoted-string to its content: quotes removed, quoted-pairs undone.</summary>
    internal static string Unquote(string local)
    {
        if (!local.Contains('"'))
            return local;
        var sb = new StringBuilder(local.Length);
        bool inQuotes = false;
        for (int i = 0; i < local.Length; i++)
        {
            char c = local[i];
            if (c == '"') inQuotes = !inQuotes;
            else if (c == '\\' && inQuotes && i + 1 < local.Length) sb.Append(local[++i]);
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Postfix valid_hostname(3) (labels of letters, digits, '-', '_', not all numeric); 8-bit labels
    /// pass, as with SMTPUTF8 (Postfix valid_utf8_hostname).</summary>
    private static bool IsValidHostname(string name)
    {
        if (name.Length is 0 or > 255)
            return false;
        bool nonNumeric = false;
        foreach (var label in name.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
                return false;
            foreach (char c in label)
            {
                if (char.IsAsciiLetter(c) || c is '-' or '_' || c > 127) nonNumeric = true;
                else if (!char.IsAsciiDigit(c)) return false;
            }
        }
        return nonNumeric;
    }
}
