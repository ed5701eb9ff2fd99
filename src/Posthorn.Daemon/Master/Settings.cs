using Posthorn.Config;
using Posthorn.Mail.Cleanup;
using Posthorn.Mail.Delivery;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Master;

/// <summary>Everything the services need, derived once from one configuration snapshot (STYLE.md C12).
/// A session keeps the instance it started with; <c>reload</c> builds a new one and swaps it.</summary>
public sealed class Settings
{
    public required ConfigSnapshot Config { get; init; }
    public required SmtpServerOptions Smtpd { get; init; }
    public required NetworkList MyNetworks { get; init; }
    public required DomainList MyDestination { get; init; }
    public required DomainList RelayDomains { get; init; }
    public required CleanupOptions Cleanup { get; init; }
    public required LocalDeliveryOptions Local { get; init; }
    public required IReadOnlyList<string> RelayRestrictions { get; init; }
    public required IReadOnlyList<string> RecipientRestrictions { get; init; }
    /// <summary>smtpd_client_restrictions (evaluated at RCPT TO: smtpd_delay_reject = yes).</summary>
    public IReadOnlyList<string> ClientRestrictions { get; init; } = [];
    public required bool LocalRecipientCheck { get; init; }
    public required TimeSpan QueueRunDelay { get; init; }
    public required TimeSpan MinimalBackoff { get; init; }
    public required TimeSpan MaximalBackoff { get; init; }
    public required TimeSpan MaximalQueueLifetime { get; init; }

    private Posthorn.Daemon.Qmgr.OutboundSettings? _outbound;
    private Posthorn.Daemon.Policy.RestrictionSettings? _restrictions;
    private Posthorn.Daemon.Smtpd.VirtualRecipients? _virtual;

    /// <summary>virtual_mailbox_domains and virtual_mailbox_maps as smtpd checks them, derived on first use.</summary>
    public Posthorn.Daemon.Smtpd.VirtualRecipients Virtual => _virtual ??= Posthorn.Daemon.Smtpd.VirtualRecipients.From(Config);

    /// <summary>The smtpd_*_restrictions lists, classes and reply codes, derived from <see cref="Config"/> on first
    /// use (smtpd_client_restrictions as <see cref="ClientRestrictions"/> has it).</summary>
    public Posthorn.Daemon.Policy.RestrictionSettings Restrictions =>
        _restrictions ??= Posthorn.Daemon.Policy.RestrictionSettings.From(Config, ClientRestrictions);

    private Posthorn.Daemon.Qmgr.AddressRouter? _router;

    /// <summary>trivial-rewrite(8) resolve and transport_maps, derived from <see cref="Config"/> on first use.</summary>
    public Posthorn.Daemon.Qmgr.AddressRouter Router => _router ??= Posthorn.Daemon.Qmgr.AddressRouter.From(Config);

    /// <summary>smtp(8) and next-hop settings, derived from <see cref="Config"/> on first use.</summary>
    public Posthorn.Daemon.Qmgr.OutboundSettings Outbound => _outbound ??= Posthorn.Daemon.Qmgr.OutboundSettings.From(Config);

    public static Settings From(ConfigSnapshot cfg, Posthorn.Logging.MailLog log)
    {
        var aliases = new List<AliasDatabase>();
        foreach (var map in cfg.GetList("alias_maps"))
        {
            // Postfix type:name tables; hash: is compiled by newaliases, the others come later.
            int colon = map.IndexOf(':');
            if (colon > 0 && map[..colon] is "hash" or "btree" or "lmdb" or "cdb" or "dbm")
            {
                if (AliasDatabase.Open(map[(colon + 1)..], log) is { } db) aliases.Add(db);
            }
            else
            {
                log.Warning("local", $"unsupported dictionary type in alias_maps: {map}");
            }
        }
        return new Settings
        {
            Config = cfg,
            Smtpd = Posthorn.Daemon.Smtpd.SmtpdSecurity.Apply(SmtpdOptions(cfg), cfg, log),
            MyNetworks = cfg.MyNetworks(),
            MyDestination = cfg.MyDestination(),
            RelayDomains = cfg.RelayDomains(),
            Cleanup = CleanupOptions.From(cfg),
            Local = new LocalDeliveryOptions
            {
                MyHostname = cfg.Get("myhostname"),
                MyDestination = cfg.MyDestination().Names,
                MailSpoolDirectory = cfg.Get("mail_spool_directory"),
                HomeMailbox = cfg.Get("home_mailbox"),
                RecipientDelimiter = cfg.Get("recipient_delimiter"),
                Aliases = aliases,
                DefaultPrivs = cfg.Get("default_privs"),
                MailboxSizeLimit = cfg.GetSize("mailbox_size_limit"),
                MyOrigin = cfg.Get("myorigin"),
                // Postfix alias.c: a map that cannot be read defers local mail ("alias database unavailable").
                UnavailableAliasMaps = cfg.GetList("alias_maps").Where(m => m.IndexOf(':') is > 0 and var c
                    && m[..c] is "hash" or "btree" or "lmdb" or "cdb" or "dbm"
                    && !aliases.Any(a => a.SourcePath == m[(c + 1)..])).ToArray(),
                MailToCommands = LocalParameterValues.Sources(cfg.GetList("allow_mail_to_commands")),
                MailToFiles = LocalParameterValues.Sources(cfg.GetList("allow_mail_to_files")),
                PrependDeliveredHeader = LocalParameterValues.DeliveredHeaders(cfg.GetList("prepend_delivered_header")),
                ForwardPath = cfg.GetList("forward_path"),
                MailboxCommand = cfg.Get("mailbox_command"),
                MailboxCommandMaps = cfg.GetList("mailbox_command_maps")
                    .Select(m => Posthorn.Config.Tables.LookupTables.OpenOrFail(m, cfg.TableOptions)).ToArray() is { Length: > 0 } commandMaps
                    ? user => Posthorn.Config.Tables.LookupTables.TryLookup(commandMaps, user, out var command) ? command : null : null,
                MailboxTransport = cfg.Get("mailbox_transport").Trim(),
                FallbackTransport = cfg.Get("fallback_transport").Trim(),
                LuserRelay = cfg.Get("luser_relay"),
                CommandTimeLimit = cfg.GetTime("command_time_limit"),
                CommandExecutionDirectory = cfg.Get("command_execution_directory"),
                LocalCommandShell = cfg.Get("local_command_shell"),
                CommandExpansionFilter = cfg.Get("command_expansion_filter"),
                ForwardExpansionFilter = cfg.Get("forward_expansion_filter"),
                ExpandOwnerAlias = cfg.GetBool("expand_owner_alias"),
                OwnerRequestSpecial = cfg.GetBool("owner_request_special"),
                Biff = cfg.GetBool("biff"),
                MaildirExtensionFolders = cfg.GetBool("posthorn_maildir_extension_folders"),
            },
            RelayRestrictions = cfg.GetList("smtpd_relay_restrictions"),
            RecipientRestrictions = cfg.GetList("smtpd_recipient_restrictions"),
            ClientRestrictions = cfg.GetList("smtpd_client_restrictions"),
            LocalRecipientCheck = cfg.Get("local_recipient_maps").Trim().Length > 0,
            QueueRunDelay = cfg.GetTime("queue_run_delay"),
            MinimalBackoff = cfg.GetTime("minimal_backoff_time"),
            MaximalBackoff = cfg.GetTime("maximal_backoff_time"),
            MaximalQueueLifetime = cfg.GetTime("maximal_queue_lifetime"),
        };
    }

    /// <summary>The smtpd settings, from a snapshot that already has the service's <c>-o</c> overrides
    /// (TLS and SASL are added by <see cref="Posthorn.Daemon.Smtpd.SmtpdSecurity.Apply"/>).</summary>
    public static SmtpServerOptions SmtpdOptions(ConfigSnapshot cfg) => new()
    {
        Hostname = cfg.Get("myhostname"),
        Banner = cfg.Get("smtpd_banner"),
        MessageSizeLimit = cfg.GetSize("message_size_limit"),
        LineLengthLimit = (int)Math.Max(512, cfg.GetNumber("line_length_limit")),
        Timeout = cfg.GetTime("smtpd_timeout"),
        RecipientLimit = (int)cfg.GetNumber("smtpd_recipient_limit"),
        SoftErrorLimit = (int)cfg.GetNumber("smtpd_soft_error_limit"),
        HardErrorLimit = (int)cfg.GetNumber("smtpd_hard_error_limit"),
        ErrorSleepTime = cfg.GetTime("smtpd_error_sleep_time"),
        JunkCommandLimit = (int)cfg.GetNumber("smtpd_junk_command_limit"),
        DisableVrfy = cfg.GetBool("disable_vrfy_command"),
        DiscardEhloKeywords = cfg.GetList("smtpd_discard_ehlo_keywords").Select(k => k.ToLowerInvariant()).ToHashSet(),
        MailName = cfg.Get("mail_name"),
        HeloRequired = cfg.GetBool("smtpd_helo_required"),
        NotifyClasses = SmtpdNotifyClasses(cfg),
        HistoryFlushThreshold = (int)Math.Clamp(cfg.GetNumber("smtpd_history_flush_threshold"), 0, 10_000),
    };

    /// <summary>notify_classes as smtpd raises them (postconf(5)): bounce, policy, protocol, resource, software;
    /// case-insensitive, the others (2bounce, delay, data) concern other programs.</summary>
    private static SmtpErrorClasses SmtpdNotifyClasses(ConfigSnapshot cfg)
    {
        var classes = SmtpErrorClasses.None;
        foreach (var name in cfg.GetList("notify_classes"))
            classes |= name.ToLowerInvariant() switch
            {
                "bounce" => SmtpErrorClasses.Bounce,
                "policy" => SmtpErrorClasses.Policy,
                "protocol" => SmtpErrorClasses.Protocol,
                "resource" => SmtpErrorClasses.Resource,
                "software" => SmtpErrorClasses.Software,
                _ => SmtpErrorClasses.None,
            };
        return classes;
    }

    /// <summary>Whether mail for <paramref name="domain"/> is delivered here (mydestination), per Postfix's
    /// ADDRESS_CLASS_README: an unqualified address and <c>[ip]</c> of this host count too.</summary>
    public bool IsLocalDomain(string domain) => domain.Length == 0 || MyDestination.Matches(domain.TrimEnd('.'));

    /// <summary>relay_domains: mail we accept from anyone and forward (subdomains match as
    /// parent_domain_matches_subdomains says; type:table entries are looked up).</summary>
    public bool IsRelayDomain(string domain) => domain.Length > 0 && RelayDomains.Matches(domain.TrimEnd('.'));
}
