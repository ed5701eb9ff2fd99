using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>The main.cf parameters local(8) reads, resolved by the caller.</summary>
public sealed record LocalDeliveryOptions
{
    /// <summary>myhostname: qualifies alias-expanded local names and names Maildir files.</summary>
    public string MyHostname { get; init; } = "localhost";
    /// <summary>mydestination: alias targets in these domains are delivered here rather than forwarded.
    /// Empty means Postfix's default, <c>$myhostname, localhost.$mydomain, localhost</c> (without the middle one).</summary>
    public IReadOnlyList<string> MyDestination { get; init; } = [];
    public string MailSpoolDirectory { get; init; } = "/var/mail";
    public string HomeMailbox { get; init; } = "";
    public string RecipientDelimiter { get; init; } = "";
    /// <summary>The opened alias_maps, searched in order.</summary>
    public IReadOnlyList<AliasDatabase> Aliases { get; init; } = [];
    /// <summary>allow_mail_to_commands as yes/no for alias expansions: true allows alias and
    /// forward (Postfix's default), false takes alias out of <see cref="MailToCommands"/>.</summary>
    public bool AllowMailToCommands
    {
        get => (MailToCommands & LocalSources.Alias) != 0;
        init => MailToCommands = value ? MailToCommands | LocalSources.Alias | LocalSources.Forward : MailToCommands & ~LocalSources.Alias;
    }
    /// <summary>allow_mail_to_files as yes/no, like <see cref="AllowMailToCommands"/>.</summary>
    public bool AllowMailToFiles
    {
        get => (MailToFiles & LocalSources.Alias) != 0;
        init => MailToFiles = value ? MailToFiles | LocalSources.Alias | LocalSources.Forward : MailToFiles & ~LocalSources.Alias;
    }
    /// <summary>allow_mail_to_commands: where <c>|command</c> targets are allowed. The library
    /// default allows none; the daemon sets Postfix's <c>alias, forward</c>.</summary>
    public LocalSources MailToCommands { get; init; }
    /// <summary>allow_mail_to_files: where <c>/file</c> targets are allowed (see <see cref="MailToCommands"/>).</summary>
    public LocalSources MailToFiles { get; init; }
    /// <summary>alias_maps entries that could not be opened: while any is listed, every
    /// recipient is deferred ("alias database unavailable"), as Postfix does on a lookup error.</summary>
    public IReadOnlyList<string> UnavailableAliasMaps { get; init; } = [];
    /// <summary>myorigin: the domain of owner-alias senders and of unqualified alias results. Empty means <see cref="MyHostname"/>.</summary>
    public string MyOrigin { get; init; } = "";
    /// <summary>forward_path: the .forward files tried in order, before $name expansion. Empty: no .forward.</summary>
    public IReadOnlyList<string> ForwardPath { get; init; } = [];
    /// <summary>mailbox_command: delivers to the mailbox instead of local(8) (e.g. procmail),
    /// run by the shell as written, with the recipient's rights (default_privs for root).</summary>
    public string MailboxCommand { get; init; } = "";
    /// <summary>mailbox_command_maps: the user name (no domain, no extension) → that user's
    /// mailbox_command; a hit takes precedence over <see cref="MailboxCommand"/>. Null: not used.
    /// May throw <see cref="Posthorn.Config.Tables.LookupTableException"/>, which defers the recipient.</summary>
    public Func<string, string?>? MailboxCommandMaps { get; init; }
    /// <summary>mailbox_transport (<c>transport:nexthop</c>, e.g. <c>lmtp:unix:private/dovecot-lmtp</c>): mailbox
    /// deliveries are handed to that transport (<see cref="LocalRecipientResult.PassTo"/>). Empty: local(8) delivers.</summary>
    public string MailboxTransport { get; init; } = "";
    /// <summary>fallback_transport: recipients that are neither aliases nor passwd users are handed to that
    /// transport instead of luser_relay or a bounce. Empty: not used.</summary>
    public string FallbackTransport { get; init; } = "";
    /// <summary>mailbox_transport_maps: the user name (no domain, no extension) → <c>transport:nexthop</c> for that
    /// user's mailbox delivery, before <see cref="MailboxTransport"/>. Null: not used. May throw
    /// <see cref="Posthorn.Config.Tables.LookupTableException"/>, which defers the recipient.</summary>
    public Func<string, string?>? MailboxTransportMaps { get; init; }
    /// <summary>fallback_transport_maps: as <see cref="MailboxTransportMaps"/>, for recipients that are neither
    /// aliases nor passwd users, before <see cref="FallbackTransport"/>.</summary>
    public Func<string, string?>? FallbackTransportMaps { get; init; }
    /// <summary>soft_bounce: a bounced recipient's log line shows <c>status=SOFTBOUNCE</c> and a 4.X.X code (the
    /// queue manager keeps the recipient queued).</summary>
    public bool SoftBounce { get; init; }
    /// <summary>luser_relay: where mail for unknown local users goes ($name expanded); empty bounces it.</summary>
    public string LuserRelay { get; init; } = "";
    /// <summary>command_time_limit: a command still running after this is killed.</summary>
    public TimeSpan CommandTimeLimit { get; init; } = TimeSpan.FromSeconds(1000);
    /// <summary>command_execution_directory ($name expanded); empty means the recipient's home (see LocalTransport.Command.cs).</summary>
    public string CommandExecutionDirectory { get; init; } = "";
    /// <summary>local_command_shell: e.g. <c>/usr/sbin/smrsh -c</c>; empty runs <c>/bin/sh -c</c>.</summary>
    public string LocalCommandShell { get; init; } = "";
    /// <summary>command_expansion_filter: characters allowed in exported environment values; others become "_".</summary>
    public string CommandExpansionFilter { get; init; } = DefaultExpansionFilter;
    /// <summary>forward_expansion_filter: characters allowed in $name values in forward_path.</summary>
    public string ForwardExpansionFilter { get; init; } = DefaultExpansionFilter;
    /// <summary>export_environment values, passed to commands unchanged (e.g. TZ, LANG), resolved by the caller.</summary>
    public IReadOnlyDictionary<string, string> ExportEnvironment { get; init; } = new Dictionary<string, string>();
    /// <summary>prepend_delivered_header: which deliveries get a Delivered-To: header (mailboxes always do).</summary>
    public DeliveredHeader PrependDeliveredHeader { get; init; } = DeliveredHeader.Command | DeliveredHeader.File | DeliveredHeader.Forward;
    /// <summary>expand_owner_alias: an owner-NAME alias's own value becomes the sender, not "owner-NAME".</summary>
    public bool ExpandOwnerAlias { get; init; }
    /// <summary>owner_request_special: owner-NAME and NAME-request are not split at a "-" recipient_delimiter.</summary>
    public bool OwnerRequestSpecial { get; init; } = true;
    /// <summary>The program that starts a command with other ids when the daemon is root
    /// (util-linux setpriv(1)).</summary>
    public string SetprivPath { get; init; } = "/usr/bin/setpriv";

    /// <summary>posthorn_maildir_extension_folders (Posthorn extension): Maildir delivery to
    /// <c>user+Folder</c> goes to the Maildir++ folder <c>.Folder</c> when it exists.</summary>
    public bool MaildirExtensionFolders { get; init; }
    /// <summary>biff: after an mbox delivery, tell comsat on 127.0.0.1 (Postfix biff_notify).</summary>
    public bool Biff { get; init; }
    /// <summary>The UDP port of the biff service (services(5) "biff", 512).</summary>
    public int BiffPort { get; init; } = 512;

    /// <summary>Postfix's default command_expansion_filter and forward_expansion_filter.</summary>
    public const string DefaultExpansionFilter = "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    /// <summary>default_privs: the account that writes /file targets from a root-owned alias map.</summary>
    public string DefaultPrivs { get; init; } = "nobody";
    /// <summary>mailbox_size_limit in bytes (0 = no limit): the largest mbox or Maildir file.</summary>
    public long MailboxSizeLimit { get; init; } = 51_200_000;
    /// <summary>deliver_lock_attempts and deliver_lock_delay: how long to wait for a mailbox lock.</summary>
    public int DeliverLockAttempts { get; init; } = 20;
    public TimeSpan DeliverLockDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>stale_lock_time: a dotlock file older than this is removed.</summary>
    public TimeSpan StaleLockTime { get; init; } = TimeSpan.FromSeconds(500);
}

/// <summary>Where an alias-like target was found (allow_mail_to_commands, allow_mail_to_files).</summary>
[Flags]
public enum LocalSources { None = 0, Alias = 1, Forward = 2, Include = 4 }

/// <summary>prepend_delivered_header values.</summary>
[Flags]
public enum DeliveredHeader { None = 0, Command = 1, File = 2, Forward = 4 }

/// <summary>One recipient handed to local(8) by qmgr.</summary>
/// <param name="OpenContent">Opens the message (header and body, CRLF or LF line ends) from the
/// start; may be called more than once. It is called before any change of identity, so a queue
/// file readable only by the daemon is fine.</param>
public sealed record LocalDeliveryRequest(
    QueueId Id, SmtpPath Sender, SmtpPath Recipient, string? OriginalRecipient,
    Func<Stream> OpenContent, DateTimeOffset ArrivalTime);

/// <summary>What happened for one final recipient (the request's recipient itself, or one that
/// an alias expanded into). <see cref="Text"/> is Postfix's status text, for the log and DSNs.
/// <see cref="ErrorsTo"/>, when set, is the owner-NAME sender a bounce goes to instead of the
/// message's sender (Postfix bounce_workaround).</summary>
public sealed record LocalRecipientResult(
    string Recipient, string? OriginalRecipient, DeliveryOutcome Outcome, EnhancedStatus Dsn, string Text)
{
    public string? ErrorsTo { get; init; }

    /// <summary>Set when local(8) hands this recipient to another transport (mailbox_transport,
    /// fallback_transport): <c>transport:nexthop</c>. Such a result is not logged by local; the caller
    /// delivers it and reports that outcome (its <see cref="Outcome"/> says Deferred only so that a caller
    /// unaware of hand-offs retries rather than loses it).</summary>
    public string? PassTo { get; init; }
}

/// <summary>An address to send the message on to, with the envelope sender to use (null: the
/// message's own sender; an owner-NAME alias sets another).</summary>
public sealed record LocalForward(string Address, string? Sender)
{
    /// <summary>prepend_delivered_header = forward (Postfix's default): the <c>Delivered-To:</c> value
    /// the forwarded copy must start with, so that a copy that comes back is bounced as a
    /// "mail forwarding loop"; null when the parameter leaves forward out.</summary>
    public string? DeliveredTo { get; init; }
}

/// <summary>The outcome of one request. Each result has already been logged by the transport
/// (<c>postfix/local</c> status line). The queue recipient is done unless some result is
/// <see cref="DeliveryOutcome.Deferred"/> (Postfix retries the whole recipient, so a retry may
/// deliver twice to the expansions that succeeded); bounced results need a DSN to the sender.
/// <see cref="Forward"/> lists alias targets outside mydestination, which the caller must send
/// on as a new message (and log <c>status=sent (forwarded as ID)</c>).</summary>
public sealed record LocalDeliveryResult(IReadOnlyList<LocalRecipientResult> Results, IReadOnlyList<string> Forward)
{
    /// <summary><see cref="Forward"/> with the envelope sender of each (owner- aliases).</summary>
    public IReadOnlyList<LocalForward> Forwards { get; init; } = [];

    public bool AnyDeferred => Results.Any(r => r.Outcome == DeliveryOutcome.Deferred);
}

/// <summary>Reads the list-valued local(8) parameters into their flags.</summary>
public static class LocalParameterValues
{
    /// <summary>allow_mail_to_commands / allow_mail_to_files: <c>alias</c>, <c>forward</c>, <c>include</c>.</summary>
    public static LocalSources Sources(IEnumerable<string> values) => values.Aggregate(LocalSources.None, (a, v) => a | v.ToLowerInvariant() switch
    {
        "alias" => LocalSources.Alias,
        "forward" => LocalSources.Forward,
        "include" => LocalSources.Include,
        _ => LocalSources.None,
    });

    /// <summary>prepend_delivered_header: <c>command</c>, <c>file</c>, <c>forward</c>.</summary>
    public static DeliveredHeader DeliveredHeaders(IEnumerable<string> values) => values.Aggregate(DeliveredHeader.None, (a, v) => a | v.ToLowerInvariant() switch
    {
        "command" => DeliveredHeader.Command,
        "file" => DeliveredHeader.File,
        "forward" => DeliveredHeader.Forward,
        _ => DeliveredHeader.None,
    });
}
