using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>local(8)'s mailbox delivery without the address work before it: what an LMTP server does with mail
/// that the MTA has already resolved to a user (Dovecot lmtp after Postfix's mailbox_transport).</summary>
public sealed partial class LocalTransport
{
    /// <summary>Delivers <paramref name="req"/> into <paramref name="user"/>'s mailbox with the same code, identity
    /// and locks as a local(8) mailbox delivery (no aliases, .forward, mailbox_command or Delivered-To loop check:
    /// the caller has resolved the recipient), and logs the recipient's line as local(8) does.</summary>
    /// <param name="maildir">null: where local(8) delivers (home_mailbox, else mail_spool_directory/USER, an mbox
    /// unless the name ends in "/"); else this Maildir, written as the user.</param>
    /// <returns>The recipient's result (Sent, Deferred or Bounced, with Postfix's text).</returns>
    public async Task<LocalRecipientResult> DeliverToMailboxAsync(LocalDeliveryRequest req, SystemUser user, string? maildir,
        CancellationToken ct)
    {
        var start = _clock.GetUtcNow();
        string address = req.Recipient.ToString();
        var x = new Expansion(req.OriginalRecipient ?? address);
        var m = new MailboxDelivery(address, address, null, user);
        var r = await FsIdentity.RunOnDedicatedThreadAsync(() => DeliverMailbox(req, x, m, ct, maildir)).ConfigureAwait(false);
        var delays = new DeliveryDelays(start - req.ArrivalTime, TimeSpan.Zero, TimeSpan.Zero, _clock.GetUtcNow() - start);
        LogResult(_log, Program, req.Id, _o.SoftBounce, new DeliveryRecord(r.Recipient, r.OriginalRecipient, "local", delays, r.Dsn, r.Outcome, r.Text));
        return r;
    }
}
