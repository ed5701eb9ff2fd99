using System.Net;
using System.Net.NetworkInformation;
using Posthorn.Config;
using Posthorn.Config.Tables;

namespace Posthorn.Daemon.Qmgr;

/// <summary>Postfix ADDRESS_CLASS_README: the class of a recipient's domain decides its default transport.</summary>
public enum AddressClass
{
    /// <summary>mydestination, or an <c>[address]</c> of this host (inet_interfaces): local_transport.</summary>
    Local,
    /// <summary>virtual_alias_domains: only aliases exist there; an address left unaliased is unknown.</summary>
    VirtualAlias,
    /// <summary>virtual_mailbox_domains: virtual_transport.</summary>
    VirtualMailbox,
    /// <summary>relay_domains: relay_transport.</summary>
    Relay,
    /// <summary>Everything else: default_transport.</summary>
    Default,
}

/// <summary>Where one recipient goes: a master.cf transport name and a next hop whose meaning is the
/// transport's (a domain or <c>[host]:port</c> for smtp, <c>unix:/path</c> for lmtp, the text for error).</summary>
public readonly record struct RecipientRoute(AddressClass Class, string Transport, string NextHop);

/// <summary>trivial-rewrite(8) resolve and transport(5): gives each recipient its address class and
/// its (transport, nexthop).</summary>
/// <remarks>
/// Pure: the tables and lists come in already opened, nothing here does I/O except the lookups
/// of the tables themselves.
/// Postfix trivial-rewrite(8) resolve.c: the classes are tried in the order local, virtual alias,
/// virtual mailbox, relay, default. The class gives the default (transport, nexthop); transport_maps
/// may then override it (transport(5)).
/// Parameters: mydestination, inet_interfaces, virtual_alias_domains, virtual_mailbox_domains,
/// relay_domains, local_transport, virtual_transport, relay_transport, default_transport, relayhost,
/// transport_maps, recipient_delimiter, parent_domain_matches_subdomains, default_filter_nexthop.
/// </remarks>
public sealed class AddressRouter
{
    /// <summary>Postfix qmgr_message.c: a failed table lookup sends the recipient to the retry transport.</summary>
    public const string ResolverFailure = "4.3.0 address resolver failure";

    public required DomainList MyDestination { get; init; }
    /// <summary>Whether an address literal names this host (inet_interfaces, proxy_interfaces).</summary>
    public Func<IPAddress, bool> IsMyAddress { get; init; } = _ => false;
    public DomainList VirtualAliasDomains { get; init; } = new([]);
    public DomainList VirtualMailboxDomains { get; init; } = new([]);
    public DomainList RelayDomains { get; init; } = new([]);
    public string LocalTransport { get; init; } = "local";
    public string VirtualTransport { get; init; } = "virtual";
    public string RelayTransport { get; init; } = "relay";
    public string DefaultTransport { get; init; } = "smtp";
    /// <summary>relayhost, unparsed (empty: none).</summary>
    public string RelayHost { get; init; } = "";
    public IReadOnlyList<ILookupTable> TransportMaps { get; init; } = [];
    public string RecipientDelimiter { get; init; } = "";
    /// <summary>transport_maps listed in parent_domain_matches_subdomains: <c>domain</c> also matches subdomains.</summary>
    public bool TransportParentMatchesSubdomains { get; init; }
    /// <summary>show_user_unknown_table_name (Postfix default yes; the parameter is not in Posthorn's
    /// registry yet): name the table in "User unknown in virtual alias table".</summary>
    public bool ShowUnknownTable { get; init; } = true;

    /// <summary>default_filter_nexthop: the next hop of a content filter that names none (empty: the recipient domain).</summary>
    public string DefaultFilterNextHop { get; init; } = "";

    /// <summary>The router for one configuration snapshot (tables opened once, as the snapshot lives).</summary>
    public static AddressRouter From(ConfigSnapshot cfg)
    {
        var maps = cfg.GetList("transport_maps").Select(spec => LookupTables.OpenOrFail(spec, cfg.TableOptions)).ToArray();
        IReadOnlyList<IPAddress> interfaces;
        try { interfaces = cfg.InetInterfaces(); }
        catch (ConfigException) { interfaces = []; }
        return new AddressRouter
        {
            MyDestination = cfg.MyDestination(),
            IsMyAddress = MyAddresses(interfaces),
            VirtualAliasDomains = cfg.DomainListOf("virtual_alias_domains"),
            VirtualMailboxDomains = cfg.DomainListOf("virtual_mailbox_domains"),
            RelayDomains = cfg.RelayDomains(),
            LocalTransport = cfg.Get("local_transport"),
            VirtualTransport = cfg.Get("virtual_transport"),
            RelayTransport = cfg.Get("relay_transport"),
            DefaultTransport = cfg.Get("default_transport"),
            RelayHost = cfg.Get("relayhost").Trim(),
            TransportMaps = maps,
            RecipientDelimiter = cfg.Get("recipient_delimiter"),
            TransportParentMatchesSubdomains = LookupKeys.ParentDomainMatchesSubdomains(cfg, "transport_maps"),
            DefaultFilterNextHop = cfg.Get("default_filter_nexthop").Trim(),
        };
    }

    /// <summary>Resolves <paramref name="address"/> (<c>user@domain</c>, already qualified by cleanup).</summary>
    /// <remarks>A table that cannot answer makes the route <c>retry:4.3.0 address resolver failure</c>:
    /// the recipient is deferred, never bounced (Postfix qmgr_message.c RESOLVE_FLAG_FAIL).</remarks>
    public RecipientRoute Resolve(string address)
    {
        int at = address.LastIndexOf('@');
        string domain = (at < 0 ? "" : address[(at + 1)..]).TrimEnd('.').ToLowerInvariant();
        try
        {
            var byClass = ResolveClass(domain);
            return ApplyTransportMaps(address.ToLowerInvariant(), domain, byClass);
        }
        catch (LookupTableException)
        {
            return new RecipientRoute(AddressClass.Default, "retry", ResolverFailure);
        }
    }

    /// <summary>Resolves <paramref name="address"/> for a message that carries a content filter
    /// (<c>transport:nexthop</c>, from FILTER or content_filter); a null or empty filter is <see cref="Resolve"/>.</summary>
    /// <remarks>Postfix FILTER_README: the filter overrides the normal routing (transport_maps, relayhost, the
    /// address classes) for every recipient of the message. The address is still resolved first, so that an address
    /// the resolver cannot answer for is deferred as without a filter (Postfix qmgr_message.c resolves, then lets
    /// the filter override). postconf(5) default_filter_nexthop: "When a content_filter or FILTER request specifies
    /// no explicit next-hop destination, use $default_filter_nexthop instead; when that value is empty, use the
    /// domain in the recipient address."</remarks>
    public RecipientRoute Resolve(string address, string? filter)
    {
        var route = Resolve(address);
        if (string.IsNullOrWhiteSpace(filter) || route.Transport == "retry") return route;
        var (transport, nexthop) = Split(filter.Trim());
        if (transport.Length == 0) return route;
        if (nexthop.Length == 0) nexthop = DefaultFilterNextHop;
        if (nexthop.Length == 0)
        {
            int at = address.LastIndexOf('@');
            nexthop = (at < 0 ? "" : address[(at + 1)..]).TrimEnd('.').ToLowerInvariant();
        }
        return route with { Transport = transport, NextHop = nexthop };
    }

    /// <summary>Postfix resolve.c: the class and its default (transport, nexthop).</summary>
    private RecipientRoute ResolveClass(string domain)
    {
        if (IsLocal(domain))
            // postconf(5) local_transport: "local:$myhostname"; no nexthop means the recipient domain.
            return WithDefaults(AddressClass.Local, LocalTransport, domain, relayHost: "");
        if (VirtualAliasDomains.Matches(domain))
        {
            // Postfix resolve.c: an address in a virtual alias domain that cleanup did not alias is unknown.
            string table = ShowUnknownTable ? " in virtual alias table" : "";
            return new RecipientRoute(AddressClass.VirtualAlias, "error", $"5.1.1 User unknown{table}");
        }
        if (VirtualMailboxDomains.Matches(domain))
            // postconf(5) virtual_transport: nexthop from $virtual_transport, else the recipient domain.
            return WithDefaults(AddressClass.VirtualMailbox, VirtualTransport, domain, relayHost: "");
        if (RelayDomains.Matches(domain))
            // postconf(5) relay_transport: nexthop from $relay_transport, $relayhost, or the recipient domain.
            return WithDefaults(AddressClass.Relay, RelayTransport, domain, RelayHost);
        // postconf(5) default_transport: nexthop from $default_transport, $relayhost, or the recipient domain.
        return WithDefaults(AddressClass.Default, DefaultTransport, domain, RelayHost);
    }

    private bool IsLocal(string domain)
    {
        // RFC 5321 §4.1.3: [1.2.3.4] / [IPv6:…] name a host; it is local when it is one of ours.
        if (domain.StartsWith('[') && domain.EndsWith(']'))
        {
            string literal = domain[1..^1];
            if (literal.StartsWith("ipv6:", StringComparison.OrdinalIgnoreCase)) literal = literal[5..];
            return IPAddress.TryParse(literal, out var ip) && IsMyAddress(ip);
        }
        return domain.Length == 0 || MyDestination.Matches(domain);
    }

    private static RecipientRoute WithDefaults(AddressClass c, string transportSetting, string domain, string relayHost)
    {
        var (transport, nexthop) = Split(transportSetting);
        if (nexthop.Length == 0) nexthop = relayHost.Length > 0 ? relayHost : domain;
        return new RecipientRoute(c, transport, nexthop);
    }

    /// <summary>transport(5): the first match of the full address, <c>user@domain</c> without the extension,
    /// the domain, its parents (<c>.parent</c>), then <c>*</c>.</summary>
    private RecipientRoute ApplyTransportMaps(string address, string domain, RecipientRoute route)
    {
        if (TransportMaps.Count == 0) return route;
        var keys = new List<string>();
        int at = address.LastIndexOf('@');
        if (at > 0)
        {
            keys.Add(address);
            string local = address[..at];
            if (RecipientDelimiter.Length > 0 && local.AsSpan().IndexOfAny(RecipientDelimiter) is > 0 and var d)
                keys.Add(local[..d] + address[at..]);
        }
        if (domain.Length > 0) keys.AddRange(LookupKeys.ForDomain(domain, TransportParentMatchesSubdomains));
        // transport(5): "the special pattern * represents any address".
        keys.Add("*");
        if (!LookupKeys.TryFind(TransportMaps, keys, out _, out string value)) return route;

        var (transport, nexthop) = Split(value.Trim());
        // transport(5) RESULT FORMAT:
        // "A null transport and null nexthop field means "do not change"";
        if (transport.Length == 0 && nexthop.Length == 0) return route;
        // "A null transport field with non-null nexthop field does not modify the transport information";
        if (transport.Length == 0) return route with { NextHop = nexthop };
        // "A non-null transport field with a null nexthop field resets the nexthop information to the recipient domain."
        return route with { Transport = transport, NextHop = nexthop.Length > 0 ? nexthop : domain };
    }

    /// <summary>Splits <c>transport:nexthop</c> at the first colon (a nexthop may hold more: <c>[h]:25</c>,
    /// <c>unix:/path</c>); no colon is a transport without nexthop.</summary>
    public static (string Transport, string NextHop) Split(string value)
    {
        int colon = value.IndexOf(':');
        return colon < 0 ? (value.Trim(), "") : (value[..colon].Trim(), value[(colon + 1)..].Trim());
    }

    /// <summary>inet_interfaces as a predicate; the wildcard (<c>all</c>) means every address of this host.</summary>
    private static Func<IPAddress, bool> MyAddresses(IReadOnlyList<IPAddress> interfaces)
    {
        var set = new HashSet<IPAddress>(interfaces);
        if (set.Contains(IPAddress.Any) || set.Contains(IPAddress.IPv6Any))
        {
            try
            {
                foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
                    foreach (var u in nic.GetIPProperties().UnicastAddresses) set.Add(u.Address);
            }
            catch (NetworkInformationException)
            {
                // Without the interface list, only the loopback addresses are known to be ours.
            }
            set.Add(IPAddress.Loopback);
            set.Add(IPAddress.IPv6Loopback);
        }
        return ip => set.Contains(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip);
    }
}
