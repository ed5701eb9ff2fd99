using System.Net;
using Posthorn.Config;
using Posthorn.Config.Tables;
using Posthorn.Mail.Outbound;

namespace Posthorn.Daemon.Qmgr;

/// <summary>What qmgr and smtp(8) read from main.cf for mail that leaves the host.</summary>
/// <remarks>Parameters: relayhost, smtp_* timeouts, smtp_tls_security_level, smtp_tls_CAfile,
/// smtp_tls_policy_maps, smtp_tls_verify_cert_match, smtp_tls_secure_cert_match, smtp_sasl_auth_enable, smtp_sasl_password_maps,
/// smtp_sasl_security_options, smtp_sasl_tls_security_options, smtp_sasl_mechanism_filter,
/// smtp_sasl_auth_soft_bounce, smtp_connection_cache_destinations, posthorn_smtp_use_bdat (extension), smtp_host_lookup,
/// inet_protocols, smtp_bind_address, smtp_mx_address_limit, smtp_mx_session_limit,
/// smtp_destination_concurrency_limit, smtp_destination_recipient_limit, smtp_fallback_relay,
/// posthorn_dns_servers (extension), and the lmtp_ forms of these for lmtp(8).</remarks>
public sealed record OutboundSettings(
    SmtpClientOptions Smtp, HostLookupOptions Lookup, IReadOnlyList<IPEndPoint> DnsServers, NextHop? RelayHost,
    int DestinationConcurrencyLimit, int DestinationRecipientLimit, string MyHostname, string MailName)
{
    public static OutboundSettings From(ConfigSnapshot cfg) => From(cfg, lmtp: false);

    /// <summary>The settings of smtp(8), or with <paramref name="lmtp"/> of lmtp(8): Postfix reads the same
    /// parameters with the <c>lmtp_</c> prefix (<c>lmtp_lhlo_name</c>, <c>lmtp_lhlo_timeout</c>, …); those not
    /// in the registry are shared with smtp(8).</summary>
    public static OutboundSettings From(ConfigSnapshot cfg, bool lmtp)
    {
        string P(string name)
        {
            if (!lmtp) return name;
            string l = "lmtp_" + name[5..].Replace("helo", "lhlo", StringComparison.Ordinal);
            return ParameterRegistry.TryGet(l, out _) || cfg.IsSet(l) ? l : name;
        }
        var protocols = cfg.GetList("inet_protocols").Select(p => p.ToLowerInvariant()).ToList();
        bool all = protocols.Contains("all");
        string level = cfg.Get(P("smtp_tls_security_level")).Trim().ToLowerInvariant();
        var connectTimeout = cfg.GetTime(P("smtp_connect_timeout"));
        var fallback = new List<NextHop>();
        foreach (var f in lmtp ? [] : cfg.GetList("smtp_fallback_relay"))
            if (NextHop.TryParse(f, out var relayHop)) fallback.Add(relayHop);
        var smtp = new SmtpClientOptions
        {
            HeloName = cfg.Get(P("smtp_helo_name")),
            // Postfix's default is empty (none); Posthorn's STARTTLS-when-offered default is Postfix's "may".
            // DEVIATION: an empty smtp_tls_security_level means "may", and dane/dane-only act as encrypt
            // (no TLSA lookups). For lmtp(8) empty means none, as in Postfix.
            TlsLevel = level switch
            {
                "none" => SmtpTlsLevel.None,
                "verify" => SmtpTlsLevel.Verify,
                "secure" => SmtpTlsLevel.Secure,
                "encrypt" or "dane" or "dane-only" => SmtpTlsLevel.Encrypt,
                "" when lmtp => SmtpTlsLevel.None,
                _ => SmtpTlsLevel.May,
            },
            // postconf(5) lmtp_connect_timeout: 0 means the system's limit; Posthorn uses smtp(8)'s 30s then.
            ConnectTimeout = connectTimeout > TimeSpan.Zero ? connectTimeout : TimeSpan.FromSeconds(30),
            HeloTimeout = cfg.GetTime(P("smtp_helo_timeout")),
            StartTlsTimeout = cfg.GetTime(P("smtp_starttls_timeout")),
            MailTimeout = cfg.GetTime(P("smtp_mail_timeout")),
            RcptTimeout = cfg.GetTime(P("smtp_rcpt_timeout")),
            DataInitTimeout = cfg.GetTime(P("smtp_data_init_timeout")),
            DataXferTimeout = cfg.GetTime(P("smtp_data_xfer_timeout")),
            DataDoneTimeout = cfg.GetTime(P("smtp_data_done_timeout")),
            QuitTimeout = cfg.GetTime(P("smtp_quit_timeout")),
            MxSessionLimit = (int)Math.Max(1, cfg.GetNumber("smtp_mx_session_limit")),
            ReplyLineLimit = (int)Math.Max(512, cfg.GetNumber("line_length_limit")),
            BindAddress = IPAddress.TryParse(cfg.Get("smtp_bind_address"), out var bind) ? bind : null,
            // Postfix smtp(8)/lmtp(8) CONNECTION CACHING: on demand, for destinations with a backlog, and always
            // for smtp_connection_cache_destinations.
            ConnectionCacheTimeLimit = cfg.GetTime(P("smtp_connection_cache_time_limit")),
            ConnectionCacheOnDemand = cfg.GetBool(P("smtp_connection_cache_on_demand")),
            ConnectionCacheDestination = NameList(cfg, cfg.GetList(P("smtp_connection_cache_destinations"))),
            RsetTimeout = cfg.GetTime(P("smtp_rset_timeout")),
            Lmtp = lmtp,
            FallbackRelay = fallback,
            TlsPolicyLookup = Maps(cfg, cfg.GetList(P("smtp_tls_policy_maps"))),
            TlsCaFile = cfg.Get(P("smtp_tls_CAfile")).Trim() is { Length: > 0 } caFile ? caFile : null,
            TlsVerifyCertMatch = cfg.GetList(P("smtp_tls_verify_cert_match")),
            TlsSecureCertMatch = cfg.GetList(P("smtp_tls_secure_cert_match")),
            SaslAuthEnable = cfg.GetBool(P("smtp_sasl_auth_enable")),
            SaslPasswordLookup = Maps(cfg, cfg.GetList(P("smtp_sasl_password_maps"))),
            SaslSecurityOptions = SaslOptions(cfg.GetList(P("smtp_sasl_security_options"))),
            SaslTlsSecurityOptions = SaslOptions(cfg.GetList(P("smtp_sasl_tls_security_options"))),
            SaslMechanismFilter = cfg.GetList(P("smtp_sasl_mechanism_filter")),
            SaslAuthSoftBounce = cfg.GetBool(P("smtp_sasl_auth_soft_bounce")),
            // Posthorn's own parameter, shared by smtp(8) and lmtp(8).
            UseBdat = cfg.GetBool("posthorn_smtp_use_bdat"),
        };
        var lookup = new HostLookupOptions
        {
            HostLookup = cfg.GetList("smtp_host_lookup"),
            UseIPv4 = all || protocols.Contains("ipv4"),
            UseIPv6 = all || protocols.Contains("ipv6"),
            MxAddressLimit = (int)cfg.GetNumber("smtp_mx_address_limit"),
        };
        var servers = new List<IPEndPoint>();
        foreach (var s in cfg.GetList("posthorn_dns_servers"))
            if (DnsClientResolver.TryParseServer(s, out var ep)) servers.Add(ep);
        string relay = cfg.Get("relayhost").Trim();
        return new OutboundSettings(smtp, lookup, servers,
            relay.Length > 0 && NextHop.TryParse(relay, out var hop) ? hop : null,
            (int)Math.Max(1, cfg.GetNumber(P("smtp_destination_concurrency_limit"))),
            (int)Math.Max(1, cfg.GetNumber(P("smtp_destination_recipient_limit"))),
            cfg.Get("myhostname"), cfg.Get("mail_name"));
    }

    /// <summary>Postfix SASL_README security options (Cyrus SASL's names).</summary>
    internal static SaslSecurity SaslOptions(IEnumerable<string> words)
    {
        var flags = SaslSecurity.None;
        foreach (string w in words)
        {
            flags |= w.ToLowerInvariant() switch
            {
                "noplaintext" => SaslSecurity.NoPlaintext,
                "noactive" => SaslSecurity.NoActive,
                "nodictionary" => SaslSecurity.NoDictionary,
                "noanonymous" => SaslSecurity.NoAnonymous,
                "mutual_auth" => SaslSecurity.MutualAuth,
                _ => SaslSecurity.None,
            };
        }
        return flags;
    }

    /// <summary>The tables of a maps parameter as one lookup, opened at first use (null when empty). A table that
    /// cannot answer throws <see cref="LookupTableException"/>.</summary>
    private static Func<string, string?>? Maps(ConfigSnapshot cfg, IReadOnlyList<string> specs)
    {
        if (specs.Count == 0) return null;
        var tables = new Lazy<ILookupTable[]>(() => [.. specs.Select(spec => LookupTables.OpenOrFail(spec, cfg.TableOptions))]);
        return key => LookupTables.TryLookup(tables.Value, key, out var value) ? value : null;
    }

    /// <summary>A Postfix string list (names, case-insensitive, and type:table lookups) as a predicate; null when empty.</summary>
    private static Func<string, bool>? NameList(ConfigSnapshot cfg, IReadOnlyList<string> items)
    {
        if (items.Count == 0) return null;
        var names = new HashSet<string>(items.Where(i => !LookupTables.IsTableReference(i)), StringComparer.OrdinalIgnoreCase);
        var lookup = Maps(cfg, [.. items.Where(LookupTables.IsTableReference)]);
        return name => names.Contains(name) || (lookup is not null && lookup(name) is not null);
    }
}
