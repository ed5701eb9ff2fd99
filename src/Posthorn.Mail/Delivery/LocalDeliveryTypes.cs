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
    /// <summary>myorigin: the domain appended to unqualified alias results (null: MyHostname).</summary>
    public string? MyOrigin { get; init; }
    public string MailSpoolDirectory { get; init; } = "/var/mail";
    public string HomeMailbox { get; init; } = "";
    public string RecipientDelimiter { get; init; } = "";
    /// <summary>The opened alias_maps, searched in order.</summary>
    public IReadOnlyList<AliasDatabase> Aliases { get; init; } = [];
    /// <summary>allow_mail_to_commands, reduced to yes/no for alias expansions.</summary>
    public bool AllowMailToCommands { get; init; }
    /// <summary>allow_mail_to_files, reduced to yes/no for alias expansions.</summary>
    public bool AllowMailToFiles { get; init; }
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

/// <summary>One recipient handed to local(8) by qmgr.</summary>
/// <param name="OpenContent">Opens the message (header and body, CRLF or LF line ends) from the
/// start; may be called more than once. It is called before any change of identity, so a queue
/// file readable only by the daemon is fine.</param>
public sealed record LocalDeliveryRequest(
    QueueId Id, SmtpPath Sender, SmtpPath Recipient, string? OriginalRecipient,
    Func<Stream> OpenContent, DateTimeOffset ArrivalTime);

/// <summary>What happened for one final recipient (the request's recipient itself, or one that
/// an alias expanded into). <see cref="Text"/> is Postfix's status text, for the log and DSNs.</summary>
public sealed record LocalRecipientResult(
    string Recipient, string? OriginalRecipient, DeliveryOutcome Outcome, EnhancedStatus Dsn, string Text);

/// <summary>The outcome of one request. Each result has already been logged by the transport
/// (<c>postfix/local</c> status line). The queue recipient is done unless some result is
/// <see cref="DeliveryOutcome.Deferred"/> (Postfix retries the whole recipient, so a retry may
/// deliver twice to the expansions that succeeded); bounced results need a DSN to the sender.
/// <see cref="Forward"/> lists alias targets outside mydestination, which the caller must send
/// on as a new message (and log <c>status=sent (forwarded as ID)</c>).</summary>
public sealed record LocalDeliveryResult(IReadOnlyList<LocalRecipientResult> Results, IReadOnlyList<string> Forward)
{
    public bool AnyDeferred => Results.Any(r => r.Outcome == DeliveryOutcome.Deferred);
}
