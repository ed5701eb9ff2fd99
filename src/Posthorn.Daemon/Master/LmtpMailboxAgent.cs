using Posthorn.Core;
using Posthorn.Lmtp;
using Posthorn.Logging;
using Posthorn.Mail.Auth;
using Posthorn.Mail.Delivery;
using Posthorn.Store.Mbox;

namespace Posthorn.Daemon.Master;

/// <summary>lmtpd's <see cref="ILmtpDeliveryAgent"/>: recipients are users of the user database (the whole address,
/// then its local part), and mail goes where imapd serves their INBOX, through local(8)'s mailbox code
/// (<see cref="LocalTransport.DeliverToMailboxAsync"/>: MboxFile or MaildirFile, the same dotlock, fcntl lock and
/// identity as a local delivery).</summary>
/// <remarks>
/// Where: the mbox <c>mail_spool_directory/USER</c> when local(8) delivers there (home_mailbox empty, the spool name
/// not ending in "/") and the user's Maildir has no INBOX of its own (<see cref="MboxInboxStore.SpoolMboxOf"/>, the
/// rule imapd follows); else the Maildir <c>imapd_mailbox</c> under the user's home.
/// Security (DESIGN.md decision 6): the choice is made with the user's identity, and the mailbox is written as
/// the user (an mbox in a spool only root may write: as root, then given to the user, as local(8) does); the uid and
/// gid come from the user database.
/// DEVIATION: Dovecot looks users up by auth_username_format; Posthorn tries the address as given, then the local
/// part, so that passwd-file users "alice" receive mail for alice@any-domain Postfix hands over. Each delivery is also
/// logged by the local delivery code (<c>postfix/local … status=sent</c>) under a queue ID that the LMTP reply names.
/// Parameters: imapd_mailbox, home_mailbox, mail_spool_directory, myhostname, mailbox_size_limit,
/// deliver_lock_attempts, deliver_lock_delay, stale_lock_time (the last four through <c>local</c>).
/// </remarks>
public sealed class LmtpMailboxAgent(IPasswordDatabase users, LocalTransport local, LocalDeliveryOptions localOptions,
    string imapdMailbox, QueueIdGenerator ids, MailLog log) : ILmtpDeliveryAgent
{
    public async ValueTask<LmtpReply> CheckRecipientAsync(string recipient, CancellationToken ct)
    {
        var (result, _) = await FindAsync(recipient, ct);
        return result switch
        {
            AuthResult.Success => LmtpReplies.RecipientOk,
            AuthResult.TemporaryFailure => LmtpReplies.TemporaryLookupFailure,
            _ => LmtpReplies.UnknownUser(recipient),
        };
    }

    public async ValueTask<LmtpReply> DeliverAsync(LmtpDelivery d, CancellationToken ct)
    {
        var (result, user) = await FindAsync(d.Recipient, ct);
        if (user is null) return result == AuthResult.Failure ? LmtpReplies.UnknownUser(d.Recipient) : LmtpReplies.TemporaryLookupFailure;
        string messageId = MessageId(d.OpenContent);
        if (user.MailboxPath(imapdMailbox) is not { } maildir || user.Uid is not { } uid || user.Gid is not { } gid)
        {
            log.Warning("lmtp", $"user {user.Name}: no home, uid or gid in the user database");
            log.LmtpSaveFailed(user.Name, d.SessionId, messageId, "INBOX", "mail system configuration error");
            return new LmtpReply(451, "4.3.5", $"<{d.Recipient}> Mail system configuration error");
        }
        // Asked as the user (a Maildir in a 0700 home is invisible to mail_owner), and only when the spool is an mbox one.
        string? mbox = !MboxInboxStore.IsMboxSpool(localOptions.HomeMailbox, localOptions.MailSpoolDirectory) ? null
            : await UserFileThreads.RunAsync((uint)uid, (uint)gid, () => ValueTask.FromResult(
                MboxInboxStore.SpoolMboxOf(localOptions.HomeMailbox, localOptions.MailSpoolDirectory, user.Name, maildir)));
        var id = ids.Next();
        string address = d.Recipient.Contains('@') ? d.Recipient : d.Recipient + "@" + localOptions.MyHostname;
        var request = new LocalDeliveryRequest(id, d.Sender.Length == 0 ? SmtpPath.Null : SmtpPath.FromAddress(d.Sender),
            SmtpPath.FromAddress(address), d.Recipient, d.OpenContent, d.Arrival);
        var account = new SystemUser(user.Name, uid, gid, user.Home, "");
        // Maildir: virtual(8)-style, "/" at the end; mbox: null, local(8)'s own choice, mail_spool_directory/USER.
        var outcome = await local.DeliverToMailboxAsync(request, account, mbox is null ? maildir.TrimEnd('/') + "/" : null, ct);
        if (outcome.Outcome == DeliveryOutcome.Sent)
        {
            log.LmtpSaved(user.Name, d.SessionId, messageId, "INBOX");
            return LmtpReplies.Delivered(d.Recipient, id.ToString());
        }
        log.LmtpSaveFailed(user.Name, d.SessionId, messageId, "INBOX", outcome.Text);
        return new LmtpReply(outcome.Outcome == DeliveryOutcome.Bounced ? 552 : 451, outcome.Dsn.ToString(), $"<{d.Recipient}> {outcome.Text}");
    }

    /// <summary>The user for an address: the whole address, then the local part.</summary>
    private async ValueTask<(AuthResult, MailUser?)> FindAsync(string recipient, CancellationToken ct)
    {
        var whole = await users.FindAsync(recipient, ct);
        if (whole.Result != AuthResult.Failure) return (whole.Result, whole.User);
        int at = recipient.LastIndexOf('@');
        if (at <= 0) return (AuthResult.Failure, null);
        var local = await users.FindAsync(recipient[..at], ct);
        return (local.Result, local.User);
    }

    /// <summary>The Message-ID header for the log ("" when none), read from the header block only.</summary>
    private static string MessageId(Func<Stream> open)
    {
        using var reader = new StreamReader(open());
        for (int n = 0; n < 1000 && reader.ReadLine() is { Length: > 0 } line; n++)
            if (line.StartsWith("Message-ID:", StringComparison.OrdinalIgnoreCase)) return line[11..].Trim();
        return "";
    }
}
