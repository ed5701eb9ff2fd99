using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>local(8): delivers to local recipients: alias expansion, then the user's mailbox
/// (mbox in mail_spool_directory, or home_mailbox: mbox, or Maildir when it ends in "/").</summary>
/// <remarks>
/// Standards: RFC 4155 (mbox), the Maildir convention, aliases(5), RFC 3463 status codes.
/// Security: runs with the daemon's privileges; as root it writes every mailbox on a dedicated
/// thread whose filesystem identity is the recipient's (or root plus fchown for a spool that only
/// root may write, as Postfix does), and opens files safe_open-style (no symlink, one link,
/// expected owner). Alias targets that are commands or files are refused unless allowed.
/// |command targets run in a child process with the rights Postfix gives them (CommandRunner).
/// Parameters: myhostname, myorigin, mydestination, mail_spool_directory, home_mailbox,
/// recipient_delimiter, alias_maps, allow_mail_to_commands, allow_mail_to_files, default_privs,
/// mailbox_size_limit, deliver_lock_attempts, deliver_lock_delay, stale_lock_time, forward_path,
/// forward_expansion_filter, mailbox_command, mailbox_command_maps, luser_relay, command_time_limit,
/// command_execution_directory, command_expansion_filter, local_command_shell,
/// export_environment, prepend_delivered_header, expand_owner_alias, owner_request_special, biff,
/// posthorn_maildir_extension_folders.
/// mailbox_transport_maps, mailbox_transport, fallback_transport_maps and fallback_transport hand the recipient back
/// to the caller (LocalRecipientResult.PassTo); soft_bounce changes only the log lines.
/// </remarks>
public sealed partial class LocalTransport
{
    private const string Program = "local";
    private readonly LocalDeliveryOptions _o;
    private readonly IUserDatabase _users;
    private readonly TimeProvider _clock;
    private readonly MailLog _log;
    private long _maildirCounter;
    /// <summary>fcntl locks belong to the process, and closing any descriptor of a file drops
    /// them: deliveries to one mbox from this process are serialized here first (striped by path).</summary>
    private readonly Lock[] _mboxLocks = Enumerable.Range(0, 64).Select(_ => new Lock()).ToArray();

    public LocalTransport(LocalDeliveryOptions o, IUserDatabase users, TimeProvider clock, MailLog log)
    {
        _o = o;
        _users = users;
        _clock = clock;
        _log = log;
    }

    /// <summary>Delivers one queue recipient; every final recipient gets a result and a log line.</summary>
    /// <exception cref="OperationCanceledException">shutdown came first; nothing is reported and
    /// the recipient should stay in the queue (a later retry may deliver twice, never zero times).</exception>
    public Task<LocalDeliveryResult> DeliverAsync(LocalDeliveryRequest req, CancellationToken ct) => DeliverAsync(req, null, ct);

    /// <summary>As <see cref="DeliverAsync(LocalDeliveryRequest, CancellationToken)"/>, in the turn of
    /// <paramref name="lane"/> when one is given: the destination's concurrency limit applies to the delivery.</summary>
    public async Task<LocalDeliveryResult> DeliverAsync(LocalDeliveryRequest req, DeliveryLane? lane, CancellationToken ct)
    {
        var started = DateTimeOffset.MinValue;
        // Expansion reads .forward files as their owners, so it runs on the delivery thread too.
        (Expansion, List<(LocalRecipientResult, DateTimeOffset, DateTimeOffset)>) Work()
        {
            started = _clock.GetUtcNow();   // when its turn came
            var x = Expand(req);
            return (x, x.Deliveries.Count > 0 ? ExecuteAll(req, x, ct) : []);
        }
        var (x, done) = await (lane is { } l ? l.Lanes.RunAsync(l.Key, l.Limit, Work, ct) : FsIdentity.RunOnDedicatedThreadAsync(Work))
            .ConfigureAwait(false);
        var results = new List<(LocalRecipientResult Result, DateTimeOffset Start, DateTimeOffset End)>();
        foreach (var r in x.Results) results.Add((r, started, started));
        results.AddRange(done);
        foreach (var (r, start, end) in results)
        {
            if (r.PassTo is not null) continue;   // handed to another transport, which logs it
            var delays = new DeliveryDelays(start - req.ArrivalTime, TimeSpan.Zero, TimeSpan.Zero, end - start);
            LogResult(_log, Program, req.Id, _o.SoftBounce, new DeliveryRecord(r.Recipient, r.OriginalRecipient, "local", delays, r.Dsn, r.Outcome, r.Text));
        }
        return new LocalDeliveryResult(results.Select(r => r.Result).ToArray(), x.Forward.Select(f => f.Address).ToArray())
        {
            Forwards = x.Forward.ToArray(),
        };
    }

    /// <summary>A recipient's line; with soft_bounce a bounce is logged as Postfix bounce.c does it,
    /// <c>dsn=4.X.X, status=SOFTBOUNCE</c> (the queue manager defers the recipient).</summary>
    internal static void LogResult(MailLog log, string program, QueueId id, bool softBounce, DeliveryRecord r)
    {
        if (softBounce && r.Status == DeliveryOutcome.Bounced)
            log.SoftBounce(program, id, r with { Dsn = r.Dsn with { Class = 4 }, Status = DeliveryOutcome.Deferred });
        else
            log.DeliveryStatus(program, id, r);
    }

    /// <summary>local_recipient_maps' default (<c>proxy:unix:passwd.byname $alias_maps</c>): true
    /// when the local part, folded to lower case, with or without its recipient_delimiter
    /// extension, is an alias or an account. smtpd answers "User unknown in local recipient
    /// table" otherwise.</summary>
    public bool IsLocalRecipient(string localPart)
    {
        string name = Unquote(localPart).ToLowerInvariant();
        var (bare, _) = SplitExtension(name);
        foreach (var key in bare == name ? [name] : new[] { name, bare })
            foreach (var db in _o.Aliases)
                if (db.TryLookup(key, out _)) return true;
        return _users.TryGetUser(bare, out _);
    }

    /// <summary>Postfix recipient_delimiter: every character of the parameter is a delimiter; the
    /// local part splits at the first one found (<c>bob+list</c> → <c>bob</c>, <c>list</c>).</summary>
    private (string Bare, string? Extension) SplitExtension(string name)
    {
        if (_o.RecipientDelimiter.Length == 0) return (name, null);
        int i = name.AsSpan().IndexOfAny(_o.RecipientDelimiter);
        // Postfix owner_request_special: owner-NAME and NAME-request are not split at a "-".
        if (i > 0 && name[i] == '-' && _o.OwnerRequestSpecial
            && (name.StartsWith("owner-", StringComparison.Ordinal) || name.EndsWith("-request", StringComparison.Ordinal)))
            return (name, null);
        return i > 0 ? (name[..i], name[(i + 1)..]) : (name, null);
    }

    private static string Unquote(string localPart) =>
        localPart.Length >= 2 && localPart[0] == '"' && localPart[^1] == '"'
            ? localPart[1..^1].Replace("\\\"", "\"").Replace("\\\\", "\\") : localPart;

    private bool IsMyDestination(string domain)
    {
        if (_o.MyDestination.Count == 0)
            return domain.Equals(_o.MyHostname, StringComparison.OrdinalIgnoreCase) || domain.Equals("localhost", StringComparison.OrdinalIgnoreCase);
        foreach (var d in _o.MyDestination)
            if (domain.Equals(d, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    private Lock MboxLock(string path) => _mboxLocks[(int)((uint)StringComparer.Ordinal.GetHashCode(path) % (uint)_mboxLocks.Length)];

    private static LocalRecipientResult Result(string recipient, string original, DeliveryOutcome outcome, string dsn, string text) =>
        new(recipient, original, outcome, EnhancedStatus.Parse(dsn), text);
}
