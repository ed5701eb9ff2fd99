using System.Text;
using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>The file work of local(8): mailbox, Maildir and /file deliveries, on the delivery
/// thread (Postfix local/mailbox.c, maildir.c, file.c).</summary>
public sealed partial class LocalTransport
{
    /// <summary>Postfix header_size_limit: how much of the header is searched for Delivered-To.</summary>
    private const int HeaderScanLimit = 102_400;

    private List<(LocalRecipientResult, DateTimeOffset, DateTimeOffset)> ExecuteAll(LocalDeliveryRequest req, Expansion x, CancellationToken ct)
    {
        var done = new List<(LocalRecipientResult, DateTimeOffset, DateTimeOffset)>();
        foreach (var p in x.Deliveries)
        {
            ct.ThrowIfCancellationRequested();
            var start = _clock.GetUtcNow();
            LocalRecipientResult r;
            // The message's Delivered-To: values, read once by Expand (not a second time per delivery).
            if (x.DeliveredTo.Contains(p.DeliveredTo.ToLowerInvariant()))
                // Postfix local(8): a Delivered-To: header with this recipient means mail is going round in circles.
                r = Result(p.Recipient, x.Original, DeliveryOutcome.Bounced, "5.4.6", $"mail forwarding loop for {p.DeliveredTo}");
            else
                r = p switch
                {
                    MailboxDelivery m => DeliverMailbox(req, x, m, ct),
                    FileDelivery f => DeliverFile(req, x, f, ct),
                    CommandDelivery c => DeliverCommand(req, x, c, ct),
                    _ => throw new InvalidOperationException(p.GetType().Name),
                };
            // Postfix bounce_workaround: with an owner- sender, problems go to the owner.
            if (r.Outcome != DeliveryOutcome.Sent && p.Sender is not null) r = r with { ErrorsTo = p.Sender };
            done.Add((r, start, _clock.GetUtcNow()));
        }
        return done;
    }

    /// <param name="maildirPath">null: the mailbox home_mailbox or mail_spool_directory names; else this Maildir
    /// (lmtpd's imapd_mailbox, see <see cref="DeliverToMailboxAsync"/>).</param>
    private LocalRecipientResult DeliverMailbox(LocalDeliveryRequest req, Expansion x, MailboxDelivery m, CancellationToken ct,
        string? maildirPath = null)
    {
        var user = m.User;
        bool inSpool = maildirPath is null && _o.HomeMailbox.Length == 0;
        // postconf(5) home_mailbox and mail_spool_directory: a name ending in "/" means Maildir.
        bool maildir = maildirPath is not null || (inSpool ? _o.MailSpoolDirectory.EndsWith('/') : _o.HomeMailbox.EndsWith('/'));
        string path = maildirPath ?? (inSpool ? Path.Combine(_o.MailSpoolDirectory, user.Name) : Path.Combine(user.Home, _o.HomeMailbox));
        string what = maildir ? "maildir" : "mailbox";
        try
        {
            // Postfix maildir.c: Maildir delivery always runs with the recipient's privileges, also in
            // the spool; only mbox in a spool the user cannot write is created as root and chowned.
            var (fsUid, fsGid, chown) = ChooseIdentity(user, inSpool && !maildir);
            var sender = SenderOf(req, m);
            string headers = MailCopy.DeliveryHeaders(sender, x.Original, m.DeliveredTo);
            using var content = req.OpenContent(); // opened with the daemon's rights, before the switch
            using (FsIdentity.Become(fsUid, fsGid))
            {
                if (maildir)
                {
                    // Postfix maildir.c make_dirs(): missing parent directories are created (as the user, mode 0700);
                    // one that cannot be made shows as MaildirFile's error.
                    var missing = new Stack<string>();
                    for (string? d = Path.GetDirectoryName(path.TrimEnd('/')); d is { Length: > 1 } && !Directory.Exists(d); d = Path.GetDirectoryName(d))
                        missing.Push(d);
                    foreach (var d in missing) LibC.mkdir(d, 0x1C0);
                    string name = MaildirFile.UniqueName(_clock.GetUtcNow(), Environment.ProcessId, Interlocked.Increment(ref _maildirCounter), _o.MyHostname);
                    MaildirFile.Deliver(MaildirFolder(path, m.DeliveredTo), name, fd => MailCopy.Write(fd, 0, _o.MailboxSizeLimit, headers, content, mbox: false));
                }
                else
                {
                    string prefix = MailCopy.FromLine(sender, _clock.GetLocalNow()) + headers;
                    long offset = 0;
                    lock (MboxLock(path))
                        MboxFile.Append(path, (uint)user.Uid, chown, Locking(ct), dotlockMayFail: !inSpool,
                            (fd, end) => MailCopy.Write(fd, offset = end, _o.MailboxSizeLimit, prefix, content, mbox: true));
                    if (_o.Biff) Biff.Notify(_o.BiffPort, user.Name, offset); // Postfix mailbox.c, biff = yes
                }
            }
            return Result(m.Recipient, x.Original, DeliveryOutcome.Sent, "2.0.0", $"delivered to {what}");
        }
        catch (MboxFile.Failure f)
        {
            // Postfix mailbox.c / maildir.c wording.
            string text = maildir ? $"maildir delivery failed: {f.Text}" : $"cannot update mailbox {path} for user {user.Name}. {f.Text}";
            return Failed(m.Recipient, x, f.Errno, text);
        }
        catch (DeliveryIOException e)
        {
            return Failed(m.Recipient, x, e.Errno, $"cannot deliver to {what} {path} for user {user.Name}. {e.Message}");
        }
    }

    /// <summary>An alias or .forward target <c>/path</c> (mbox format) or <c>/path/</c> (Maildir),
    /// written with the rights of the expansion (the user, the alias map's owner, or default_privs).</summary>
    private LocalRecipientResult DeliverFile(LocalDeliveryRequest req, Expansion x, FileDelivery f, CancellationToken ct)
    {
        bool maildir = f.Path.EndsWith('/');
        try
        {
            if (!TryResolvePrivs(f.Privs, out uint uid, out uint gid, out var problem))
                return Result(f.Recipient, x.Original, DeliveryOutcome.Deferred, "4.3.0", problem);
            var sender = SenderOf(req, f);
            string headers = MailCopy.DeliveryHeaders(sender, x.Original,
                (_o.PrependDeliveredHeader & DeliveredHeader.File) != 0 ? f.DeliveredTo : null);
            using var content = req.OpenContent();
            using (FsIdentity.Become(uid, gid))
            {
                if (maildir)
                {
                    string name = MaildirFile.UniqueName(_clock.GetUtcNow(), Environment.ProcessId, Interlocked.Increment(ref _maildirCounter), _o.MyHostname);
                    MaildirFile.Deliver(f.Path, name, fd => MailCopy.Write(fd, 0, _o.MailboxSizeLimit, headers, content, mbox: false));
                    return Result(f.Recipient, x.Original, DeliveryOutcome.Sent, "2.0.0", "delivered to maildir");
                }
                string prefix = MailCopy.FromLine(sender, _clock.GetLocalNow()) + headers;
                lock (MboxLock(f.Path))
                    MboxFile.Append(f.Path, owner: null, chown: null, Locking(ct), dotlockMayFail: true,
                        (fd, end) => MailCopy.Write(fd, end, _o.MailboxSizeLimit, prefix, content, mbox: true));
            }
            return Result(f.Recipient, x.Original, DeliveryOutcome.Sent, "2.0.0", $"delivered to file: {f.Path}");
        }
        catch (MboxFile.Failure e)
        {
            string text = maildir ? $"maildir delivery failed: {e.Text}" : $"cannot append message to file {f.Path}: {e.Text}";
            return Failed(f.Recipient, x, e.Errno, text);
        }
        catch (DeliveryIOException e)
        {
            return Failed(f.Recipient, x, e.Errno, $"cannot append message to file {f.Path}: {e.Message}");
        }
    }

    /// <summary>The ids a /file or |command runs with. Not root: the daemon's own (Postfix's
    /// unprivileged mode). Root: the expansion's, or default_privs for root-owned sources
    /// (Postfix local(8) DELIVERY RIGHTS; command.c never runs a command as root).</summary>
    private bool TryResolvePrivs(Privs? p, out uint uid, out uint gid, out string problem)
    {
        (uid, gid, problem) = (LibC.geteuid(), LibC.getegid(), "");
        if (!LibC.IsRoot) return true;
        if (p is { Uid: not 0 })
        {
            (uid, gid) = (p.Uid, p.Gid);
            return true;
        }
        if (!_users.TryGetUser(_o.DefaultPrivs, out var privs) || privs.Uid == 0)
        {
            problem = $"unknown default_privs user: {_o.DefaultPrivs}";
            return false;
        }
        (uid, gid) = ((uint)privs.Uid, (uint)privs.Gid);
        return true;
    }

    /// <summary>The envelope sender of a delivery: an owner-NAME alias's, else the message's.</summary>
    private static Posthorn.Core.SmtpPath SenderOf(LocalDeliveryRequest req, Planned p) =>
        p.Sender is null ? req.Sender : Posthorn.Core.SmtpPath.FromAddress(p.Sender);

    /// <summary>Postfix mailbox.c "mailbox delivery with least privilege": in the spool, write as
    /// the recipient when the directory is world-writable, as the recipient with the spool's group
    /// when it is group-writable, else as root and chown the new file to the recipient. A home
    /// mailbox is always written as the recipient. Not root: only our own mailbox is possible.</summary>
    private (uint Uid, uint Gid, (uint, uint)? Chown) ChooseIdentity(SystemUser user, bool inSpool)
    {
        uint uid = (uint)user.Uid, gid = (uint)user.Gid;
        if (!LibC.IsRoot)
        {
            if (uid != LibC.geteuid()) throw new MboxFile.Failure(LibC.EACCES, $"cannot open file: {LibC.StrError(LibC.EACCES)}");
            return (uid, gid, null);
        }
        if (!inSpool || !LibC.TryStat(_o.MailSpoolDirectory, out var spool, out _) || (spool.Mode & 0x2) != 0)
            return (uid, gid, null);
        if ((spool.Mode & 0x10) != 0) return (uid, spool.Gid, null);
        return (0, 0, (uid, gid));
    }

    /// <summary>A hand-off to mailbox_transport or fallback_transport (Postfix local(8) deliver_pass()):
    /// the caller delivers it through that transport.</summary>
    private static LocalRecipientResult Pass(Expansion x, string address, Ctx ctx, string transport) =>
        Result(address, x.Original, DeliveryOutcome.Deferred, "4.3.0", $"passed to transport {transport}") with { PassTo = transport, ErrorsTo = ctx.Sender };

    /// <summary>Postfix mbox_dsn(): a full disk or quota is the recipient's problem only when the
    /// file is too large (5.2.2); everything else is tried again later.</summary>
    private static LocalRecipientResult Failed(string recipient, Expansion x, int errno, string text) => errno switch
    {
        LibC.EFBIG or LibC.EDQUOT => Result(recipient, x.Original, DeliveryOutcome.Bounced, "5.2.2", text),
        LibC.ENOSPC => Result(recipient, x.Original, DeliveryOutcome.Deferred, "4.3.0", text),
        _ => Result(recipient, x.Original, DeliveryOutcome.Deferred, "4.2.0", text),
    };

    private MboxFile.Locking Locking(CancellationToken ct) =>
        new(Math.Max(1, _o.DeliverLockAttempts), _o.DeliverLockDelay, _o.StaleLockTime, _clock, ct);

    /// <summary>The Delivered-To: values of the message header, lower case (header only, bounded).</summary>
    private static HashSet<string> ReadDeliveredTo(LocalDeliveryRequest req)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        using var content = req.OpenContent();
        using var reader = new StreamReader(content, Encoding.Latin1, detectEncodingFromByteOrderMarks: false);
        var line = new StringBuilder();
        for (int seen = 0, c; seen < HeaderScanLimit && (c = reader.Read()) >= 0; seen++)
        {
            if (c == '\r') continue;
            if (c != '\n') { line.Append((char)c); continue; }
            if (line.Length == 0) break; // end of the header
            const string name = "Delivered-To:";
            if (line.Length > name.Length && line.ToString(0, name.Length).Equals(name, StringComparison.OrdinalIgnoreCase))
                found.Add(line.ToString(name.Length, line.Length - name.Length).Trim().ToLowerInvariant());
            line.Clear();
        }
        return found;
    }
}
