using System.Collections.Concurrent;
using Posthorn.Config;
using Posthorn.Config.Tables;

namespace Posthorn.Daemon.Policy;

/// <summary>The smtpd restriction lists, restriction classes and reply codes of one configuration snapshot,
/// with the access tables they name, opened on first use and kept for the snapshot's life.</summary>
/// <remarks>Parameters: smtpd_client_restrictions, smtpd_helo_restrictions, smtpd_sender_restrictions,
/// smtpd_relay_restrictions, smtpd_recipient_restrictions, smtpd_data_restrictions, smtpd_end_of_data_restrictions,
/// smtpd_etrn_restrictions, smtpd_restriction_classes, smtpd_reject_unlisted_sender, smtpd_log_access_permit_actions,
/// unknown_hostname_reject_code, unknown_address_reject_code, unknown_helo_hostname_tempfail_action,
/// unknown_address_tempfail_action,
/// smtpd_helo_required, parent_domain_matches_subdomains (smtpd_access_maps), recipient_delimiter, reject_code,
/// defer_code, access_map_reject_code, access_map_defer_code, maps_rbl_reject_code, invalid_hostname_reject_code,
/// non_fqdn_reject_code, relay_domains_reject_code, unknown_local_recipient_reject_code.</remarks>
public sealed class RestrictionSettings
{
    private readonly ConcurrentDictionary<string, ILookupTable> _tables = new(StringComparer.Ordinal);

    public required ConfigSnapshot Config { get; init; }
    public IReadOnlyList<string> Client { get; init; } = [];
    public IReadOnlyList<string> Helo { get; init; } = [];
    public IReadOnlyList<string> Sender { get; init; } = [];
    public IReadOnlyList<string> Relay { get; init; } = [];
    public IReadOnlyList<string> Recipient { get; init; } = [];
    public IReadOnlyList<string> Data { get; init; } = [];
    /// <summary>smtpd_end_of_data_restrictions: run once the content is received, before the final reply.</summary>
    public IReadOnlyList<string> EndOfData { get; init; } = [];
    /// <summary>smtpd_etrn_restrictions: run on ETRN, after the client and HELO lists.</summary>
    public IReadOnlyList<string> Etrn { get; init; } = [];
    /// <summary>smtpd_restriction_classes: class name → its restriction list.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Classes { get; init; } =
        new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>parent_domain_matches_subdomains contains smtpd_access_maps.</summary>
    public bool ParentMatchesSubdomains { get; init; } = true;
    public string RecipientDelimiter { get; init; } = "";
    public short RejectCode { get; init; } = 554;
    public short DeferCode { get; init; } = 450;
    public short AccessMapRejectCode { get; init; } = 554;
    public short AccessMapDeferCode { get; init; } = 450;
    public short RblRejectCode { get; init; } = 554;
    public short InvalidHostnameRejectCode { get; init; } = 501;
    public short NonFqdnRejectCode { get; init; } = 504;
    public short RelayRejectCode { get; init; } = 554;
    public short UnknownLocalRecipientRejectCode { get; init; } = 550;
    public short UnknownVirtualAliasRejectCode { get; init; } = 550;
    /// <summary>unknown_client_reject_code: reject_unknown_client_hostname and reject_unknown_reverse_client_hostname.</summary>
    public short UnknownClientRejectCode { get; init; } = 450;
    /// <summary>unknown_hostname_reject_code: reject_unknown_helo_hostname.</summary>
    public short UnknownHostnameRejectCode { get; init; } = 450;
    /// <summary>unknown_address_reject_code: reject_unknown_sender_domain and reject_unknown_recipient_domain.</summary>
    public short UnknownAddressRejectCode { get; init; } = 450;
    /// <summary>unknown_helo_hostname_tempfail_action is defer_if_permit (else defer: refuse at once).</summary>
    public bool UnknownHeloTempfailDeferIfPermit { get; init; } = true;
    /// <summary>unknown_address_tempfail_action is defer_if_permit (else defer: refuse at once).</summary>
    public bool UnknownAddressTempfailDeferIfPermit { get; init; } = true;
    /// <summary>smtpd_reject_unlisted_sender: the sender check of reject_unlisted_sender runs after the sender list.</summary>
    public bool RejectUnlistedSender { get; init; }
    /// <summary>smtpd_log_access_permit_actions, lower case (<c>static:all</c> logs every permit action).</summary>
    public IReadOnlySet<string> LogAccessPermitActions { get; init; } = new HashSet<string>();
    /// <summary>smtpd_client_message_rate_limit (0: none).</summary>
    public int MessageRateLimit { get; init; }
    /// <summary>smtpd_client_recipient_rate_limit (0: none).</summary>
    public int RecipientRateLimit { get; init; }
    /// <summary>smtpd_client_event_limit_exceptions: clients the rate limits do not apply to.</summary>
    public NetworkList EventLimitExceptions { get; init; } = NetworkList.Empty;
    /// <summary>The rate counters of this snapshot (anvil_rate_time_unit). DEVIATION: Postfix's anvil(8) keeps its
    /// counters across reload; here a reload starts them afresh.</summary>
    public Anvil Anvil { get; init; } = new(TimeProvider.System, TimeSpan.FromSeconds(60));

    /// <summary>smtpd_policy_service_timeout.</summary>
    public TimeSpan PolicyServiceTimeout { get; init; } = TimeSpan.FromSeconds(100);
    /// <summary>check_policy_service connections, shared by the sessions of this snapshot.</summary>
    public PolicyClient PolicyClient { get; init; } = new(TimeProvider.System, TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(1000));

    /// <summary>smtpd_policy_service_default_action: the access(5) action used when the server fails.</summary>
    public string PolicyServiceDefaultAction { get; init; } = "451 4.3.5 Server configuration problem";

    /// <summary>virtual_alias_domains (default $virtual_alias_maps: a domain listed as a key there).</summary>
    public DomainList VirtualAliasDomains { get; init; } = new([]);
    /// <summary>virtual_alias_maps, for the RCPT TO check of virtual alias domains.</summary>
    public IReadOnlyList<ILookupTable> VirtualAliasMaps { get; init; } = [];
    /// <summary>relocated_maps.</summary>
    public IReadOnlyList<ILookupTable> RelocatedMaps { get; init; } = [];

    /// <summary>Whether <paramref name="domain"/> is a virtual alias domain.</summary>
    /// <exception cref="LookupTableException">A table of the list failed.</exception>
    public bool IsVirtualAliasDomain(string domain) => domain.Length > 0 && VirtualAliasDomains.Matches(domain);

    /// <summary>Whether virtual_alias_maps has <paramref name="address"/> (keys <c>user+ext@domain</c>,
    /// <c>user@domain</c>, <c>@domain</c>: Postfix virtual(5)).</summary>
    /// <exception cref="LookupTableException">A table failed.</exception>
    public bool IsVirtualAlias(string address) =>
        LookupKeys.TryFind(VirtualAliasMaps, LookupKeys.ForAddress(address, RecipientDelimiter, localDomain: false), out _, out _);

    /// <summary>Postfix relocated(5): the new location of <paramref name="address"/>, or null. Keys: <c>user@domain</c>,
    /// then <c>user</c> (for this host's domains only), then <c>@domain</c>.</summary>
    /// <exception cref="LookupTableException">A table failed.</exception>
    public string? RelocatedTo(string address, bool localDomain) =>
        LookupKeys.TryFind(RelocatedMaps, LookupKeys.ForAddress(address, RecipientDelimiter, localDomain), out _, out string value)
            ? value.Trim() : null;

    /// <summary>The lists of <paramref name="cfg"/> (a snapshot that already has the service's -o overrides).</summary>
    public static RestrictionSettings From(ConfigSnapshot cfg, IReadOnlyList<string>? clientOverride = null, TimeProvider? clock = null)
    {
        var classes = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        // Postfix postconf(5) smtpd_restriction_classes: each name is itself a main.cf parameter holding a list.
        foreach (var name in cfg.GetList("smtpd_restriction_classes"))
            classes[name] = cfg.GetList(name);
        short Code(string p) => (short)cfg.GetNumber(p);
        IReadOnlyList<ILookupTable> Maps(string p) =>
            [.. cfg.GetList(p).Select(spec => LookupTables.OpenOrFail(spec, cfg.TableOptions))];
        return new RestrictionSettings
        {
            Config = cfg,
            Client = clientOverride ?? cfg.GetList("smtpd_client_restrictions"),
            Helo = cfg.GetList("smtpd_helo_restrictions"),
            Sender = cfg.GetList("smtpd_sender_restrictions"),
            Relay = cfg.GetList("smtpd_relay_restrictions"),
            Recipient = cfg.GetList("smtpd_recipient_restrictions"),
            Data = cfg.GetList("smtpd_data_restrictions"),
            EndOfData = cfg.GetList("smtpd_end_of_data_restrictions"),
            Etrn = cfg.GetList("smtpd_etrn_restrictions"),
            Classes = classes,
            ParentMatchesSubdomains = LookupKeys.ParentDomainMatchesSubdomains(cfg, "smtpd_access_maps"),
            RecipientDelimiter = cfg.Get("recipient_delimiter"),
            RejectCode = Code("reject_code"),
            DeferCode = Code("defer_code"),
            AccessMapRejectCode = Code("access_map_reject_code"),
            AccessMapDeferCode = Code("access_map_defer_code"),
            RblRejectCode = Code("maps_rbl_reject_code"),
            InvalidHostnameRejectCode = Code("invalid_hostname_reject_code"),
            NonFqdnRejectCode = Code("non_fqdn_reject_code"),
            RelayRejectCode = Code("relay_domains_reject_code"),
            UnknownLocalRecipientRejectCode = Code("unknown_local_recipient_reject_code"),
            UnknownVirtualAliasRejectCode = Code("unknown_virtual_alias_reject_code"),
            UnknownClientRejectCode = Code("unknown_client_reject_code"),
            UnknownHostnameRejectCode = Code("unknown_hostname_reject_code"),
            UnknownAddressRejectCode = Code("unknown_address_reject_code"),
            // Postfix postconf(5) reject_tempfail_action: "defer_if_permit" or "defer" (the latter refuses at once).
            UnknownHeloTempfailDeferIfPermit = !cfg.Get("unknown_helo_hostname_tempfail_action").Trim().Equals("defer", StringComparison.OrdinalIgnoreCase),
            UnknownAddressTempfailDeferIfPermit = !cfg.Get("unknown_address_tempfail_action").Trim().Equals("defer", StringComparison.OrdinalIgnoreCase),
            RejectUnlistedSender = cfg.GetBool("smtpd_reject_unlisted_sender"),
            LogAccessPermitActions = cfg.GetList("smtpd_log_access_permit_actions").Select(a => a.ToLowerInvariant()).ToHashSet(),
            PolicyServiceTimeout = cfg.GetTime("smtpd_policy_service_timeout"),
            MessageRateLimit = (int)cfg.GetNumber("smtpd_client_message_rate_limit"),
            RecipientRateLimit = (int)cfg.GetNumber("smtpd_client_recipient_rate_limit"),
            EventLimitExceptions = NetworkList.TryParse(cfg.Get("smtpd_client_event_limit_exceptions"), cfg.TableOptions, out var exceptions, out _)
                ? exceptions : cfg.MyNetworks(),
            Anvil = new Anvil(clock ?? TimeProvider.System, cfg.GetTime("anvil_rate_time_unit")),
            PolicyServiceDefaultAction = cfg.Get("smtpd_policy_service_default_action"),
            PolicyClient = new PolicyClient(clock ?? TimeProvider.System, cfg.GetTime("smtpd_policy_service_max_idle"),
                cfg.GetTime("smtpd_policy_service_max_ttl")),
            VirtualAliasDomains = cfg.DomainListOf("virtual_alias_domains"),
            VirtualAliasMaps = Maps("virtual_alias_maps"),
            RelocatedMaps = Maps("relocated_maps"),
        };
    }

    /// <summary>The table <paramref name="spec"/>; one that cannot be opened answers every lookup with a
    /// <see cref="LookupTableException"/> (Postfix's surrogate table), so the request is deferred, not permitted.</summary>
    public ILookupTable Table(string spec) =>
        _tables.GetOrAdd(spec, s => LookupTables.OpenOrFail(s, Config.TableOptions));
}
