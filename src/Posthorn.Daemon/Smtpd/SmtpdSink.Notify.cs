using MimeKit;
using Posthorn.Core;
using Posthorn.Daemon.Qmgr;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Cleanup;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Smtpd;

/// <summary>Postfix smtpd_chat_notify: the session transcript mailed to error_notice_recipient when the session met
/// an error of a class in notify_classes (bounce, policy, protocol, resource, software).</summary>
/// <remarks>
/// As Postfix writes it: from the double-bounce address (so that a notice that cannot be delivered is dropped, never
/// bounced), <c>From: MAILER-DAEMON (Mail Delivery System)</c>, <c>To: postmaster (Postmaster)</c>,
/// <c>Subject: Postfix SMTP server: errors from host[addr]</c> with mail_name, the transcript in the body.
/// "This is junk mail": a notice that cannot be queued is logged as a warning and the session goes on.
/// Parameters: notify_classes, error_notice_recipient, double_bounce_sender, mail_name, myhostname.
/// </remarks>
public sealed partial class SmtpdSink
{
    public async ValueTask NotifyPostmasterAsync(SmtpSessionInfo session, SmtpErrorClasses errors, string body, CancellationToken ct)
    {
        var cfg = settings.Config;
        string hostname = settings.Outbound.MyHostname;
        var to = CleanupWriter.Qualify(SmtpPath.FromAddress(cfg.Get("error_notice_recipient").Trim()), settings.Cleanup);
        var id = ids.Next();
        var notice = new MimeMessage();
        notice.From.Add(new MailboxAddress("Mail Delivery System", $"MAILER-DAEMON@{hostname}"));
        notice.To.Add(new MailboxAddress("Postmaster", to.ToString()));
        notice.Subject = $"{settings.Outbound.MailName} SMTP server: errors from {session.ClientDescription}";
        notice.Date = clock.GetLocalNow();
        notice.MessageId = $"{clock.GetUtcNow().ToUnixTimeMilliseconds()}.smtpd.{id}@{hostname}";
        notice.Headers.Add("Auto-Submitted", "auto-generated");   // RFC 3834 §5
        notice.Body = new TextPart("plain") { Text = body };
        try
        {
            await new NoticeBuilder(hostname, settings.Outbound.MailName, clock)
                .QueueAsync(queue, id, notice, QmgrService.DoubleBounceAddress(cfg), to, ct);
        }
        catch (IOException e)
        {
            log.Warning("smtpd", $"postmaster notify: {e.Message}");
            return;
        }
        log.CleanupMessageId(id, $"<{notice.MessageId}>");
        Queued(id);
    }
}
