using System.Globalization;
using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>The main.cf parameters virtual(8) reads; the maps come in as lookup functions
/// (key → value, or null when not found), opened by the caller.</summary>
public sealed record VirtualDeliveryOptions
{
    public string MyHostname { get; init; } = "localhost";
    /// <summary>virtual_mailbox_domains (names, compared case-insensitively).</summary>
    public IReadOnlyList<string> MailboxDomains { get; init; } = [];
    /// <summary>virtual_mailbox_base: prefixed to every path from virtual_mailbox_maps.</summary>
    public string MailboxBase { get; init; } = "";
    /// <summary>virtual_mailbox_maps: <c>user@domain</c> or <c>@domain</c> → path (trailing "/" = Maildir).</summary>
    public Func<string, string?> MailboxMaps { get; init; } = _ => null;
    /// <summary>virtual_uid_maps and virtual_gid_maps (see <see cref="VirtualTransport.Static"/> for <c>static:N</c>).</summary>
    public Func<string, string?> UidMaps { get; init; } = _ => null;
    public Func<string, string?> GidMaps { get; init; } = _ => null;
    /// <summary>virtual_minimum_uid: a smaller uid from the maps is a configuration error.</summary>
    public long MinimumUid { get; init; } = 100;
    /// <summary>virtual_mailbox_limit in bytes (0 = none).</summary>
    public long MailboxLimit { get; init; } = 51_200_000;
    public string RecipientDelimiter { get; init; } = "";
    public int DeliverLockAttempts { get; init; } = 20;
    public TimeSpan DeliverLockDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan StaleLockTime { get; init; } = TimeSpan.FromSeconds(500);
    /// <summary>soft_bounce: a bounced recipient's log line shows <c>status=SOFTBOUNCE</c> and a 4.X.X code.</summary>
    public bool SoftBounce { get; init; }
}

/// <summary>virtual(8): delivers to mailboxes of users who need not be system accounts
/// (virtual_mailbox_maps), as the uid and gid the maps give.</summary>
/// <remarks>
/// Standards: RFC 4155 (mbox), the Maildir convention, RFC 3463.
/// Postfix virtual(8): the recipient is looked up as <c>user@domain</c>, then without its
/// address extension, then as <c>@domain</c> (catch-all); the path is appended to
/// virtual_mailbox_base; "a path ending in / means maildir". No aliases, .forward, commands or files.
/// Security: as root, each mailbox is written on the delivery thread with the filesystem
/// identity from virtual_uid_maps/virtual_gid_maps; uids below virtual_minimum_uid are refused.
/// Parameters: virtual_mailbox_domains, virtual_mailbox_base, virtual_mailbox_maps,
/// virtual_uid_maps, virtual_gid_maps, virtual_minimum_uid, virtual_mailbox_limit, recipient_delimiter.
/// qmgr routes the virtual class here (Qmgr/AddressRouter); smtpd refuses unknown users at RCPT
/// (Smtpd/VirtualRecipients); <see cref="IsVirtualRecipient"/> answers the same question for one address.
/// </remarks>
public sealed class VirtualTransport(VirtualDeliveryOptions o, TimeProvider clock, MailLog log)
{
    private const string Program = "virtual";
    private long _maildirCounter;
    private readonly Lock _mboxLock = new();

    /// <summary>A lookup function for a <c>static:VALUE</c> table: every key gives VALUE.</summary>
    public static Func<string, string?> Static(string value) => _ => value;

    /// <summary>True when the address is in a virtual mailbox domain and has a mailbox.</summary>
    public bool IsVirtualRecipient(string address) => IsVirtualDomain(address) && FindMailbox(address) is not null;

    /// <summary>Delivers one recipient; the single result is logged (<c>postfix/virtual</c>).</summary>
    public async Task<LocalDeliveryResult> DeliverAsync(LocalDeliveryRequest req, CancellationToken ct)
    {
        var start = clock.GetUtcNow();
        var r = await FsIdentity.RunOnDedicatedThreadAsync(() => Deliver(req, ct)).ConfigureAwait(false);
        var end = clock.GetUtcNow();
        var delays = new DeliveryDelays(start - req.ArrivalTime, TimeSpan.Zero, TimeSpan.Zero, end - start);
        LocalTransport.LogResult(log, Program, req.Id, o.SoftBounce, new DeliveryRecord(r.Recipient, r.OriginalRecipient, "virtual", delays, r.Dsn, r.Outcome, r.Text));
        return new LocalDeliveryResult([r], []);
    }

    private LocalRecipientResult Deliver(LocalDeliveryRequest req, CancellationToken ct)
    {
        string address = req.Recipient.ToString();
        string original = req.OriginalRecipient ?? address;
        LocalRecipientResult Result(DeliveryOutcome outcome, string dsn, string text) => new(address, original, outcome, EnhancedStatus.Parse(dsn), text);

        if (FindMailbox(address) is not { } found)
            return Result(DeliveryOutcome.Bounced, "5.1.1", $"unknown user: \"{address.ToLowerInvariant()}\"");
        if (!long.TryParse(o.UidMaps(found.Key), NumberStyles.None, CultureInfo.InvariantCulture, out long uid)
            || !long.TryParse(o.GidMaps(found.Key), NumberStyles.None, CultureInfo.InvariantCulture, out long gid)
            || uid < o.MinimumUid || uid > uint.MaxValue || gid > uint.MaxValue)
        {
            // Postfix virtual(8): a missing or too small uid/gid is a configuration problem; the mail waits.
            log.Warning(Program, $"bad or missing uid/gid for {found.Key} in virtual_uid_maps/virtual_gid_maps");
            return Result(DeliveryOutcome.Deferred, "4.3.5", "mail system configuration error");
        }
        string path = o.MailboxBase.Length > 0 ? Path.Join(o.MailboxBase, found.Path) : found.Path;
        bool maildir = path.EndsWith('/');
        try
        {
            string headers = MailCopy.DeliveryHeaders(req.Sender, original, address);
            using var content = req.OpenContent();
            using (FsIdentity.Become((uint)uid, (uint)gid))
            {
                if (maildir)
                {
                    // Postfix maildir.c make_dirs(): missing parent directories are created (as the user).
                    string parent = Path.GetDirectoryName(path.TrimEnd('/')) ?? "/";
                    var missing = new Stack<string>();
                    for (string? d = parent; d is { Length: > 1 } && !Directory.Exists(d); d = Path.GetDirectoryName(d)) missing.Push(d);
                    foreach (var d in missing) LibC.mkdir(d, 0x1C0);
                    string name = MaildirFile.UniqueName(clock.GetUtcNow(), Environment.ProcessId, Interlocked.Increment(ref _maildirCounter), o.MyHostname);
                    MaildirFile.Deliver(path, name, fd => MailCopy.Write(fd, 0, o.MailboxLimit, headers, content, mbox: false));
                    return Result(DeliveryOutcome.Sent, "2.0.0", "delivered to maildir");
                }
                string prefix = MailCopy.FromLine(req.Sender, clock.GetLocalNow()) + headers;
                var locking = new MboxFile.Locking(Math.Max(1, o.DeliverLockAttempts), o.DeliverLockDelay, o.StaleLockTime, clock, ct);
                lock (_mboxLock)
                    MboxFile.Append(path, LibC.IsRoot ? (uint)uid : null, null, locking, dotlockMayFail: true,
                        (fd, end) => MailCopy.Write(fd, end, o.MailboxLimit, prefix, content, mbox: true));
                return Result(DeliveryOutcome.Sent, "2.0.0", "delivered to mailbox");
            }
        }
        catch (MboxFile.Failure f)
        {
            string text = maildir ? $"maildir delivery failed: {f.Text}" : $"mailbox {path}: {f.Text}";
            return Result(f.Errno is LibC.EFBIG or LibC.EDQUOT ? DeliveryOutcome.Bounced : DeliveryOutcome.Deferred,
                f.Errno is LibC.EFBIG or LibC.EDQUOT ? "5.2.2" : "4.2.0", text);
        }
        catch (DeliveryIOException e)
        {
            return Result(DeliveryOutcome.Deferred, "4.2.0", $"cannot deliver to {path}: {e.Message}");
        }
    }

    private bool IsVirtualDomain(string address)
    {
        int at = address.LastIndexOf('@');
        return at >= 0 && o.MailboxDomains.Any(d => d.Equals(address[(at + 1)..], StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Postfix virtual(8) lookup order: user+ext@domain, user@domain, @domain.</summary>
    private (string Key, string Path)? FindMailbox(string address)
    {
        string a = address.ToLowerInvariant();
        int at = a.LastIndexOf('@');
        if (at <= 0) return null;
        string local = a[..at], domain = a[at..];
        var keys = new List<string> { a };
        if (o.RecipientDelimiter.Length > 0 && local.AsSpan().IndexOfAny(o.RecipientDelimiter) is > 0 and var i)
            keys.Add(local[..i] + domain);
        keys.Add(domain);
        foreach (var k in keys)
            if (o.MailboxMaps(k) is { Length: > 0 } p) return (k, p);
        return null;
    }
}
