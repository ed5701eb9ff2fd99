using System.Globalization;
using System.Text;
using MimeKit;
using MimeKit.Utils;
using Posthorn.Core;
using Posthorn.Mail.Queue;

namespace Posthorn.Mail.Bounce;

/// <summary>Which notice <see cref="NoticeBuilder"/> makes (Postfix bounce.cf.default templates).</summary>
public enum NoticeKind
{
    /// <summary>delay_template to the sender: "Delayed Mail (still being retried)", Action: delayed.</summary>
    SenderDelay,
    /// <summary>delay_template's Postmaster-Subject: "Postmaster Warning: Delayed Mail" (notify_classes delay).</summary>
    PostmasterDelay,
    /// <summary>failure_template's Postmaster-Subject: "Postmaster Copy: Undelivered Mail" (notify_classes bounce,
    /// 2bounce).</summary>
    PostmasterFailure,
    /// <summary>notify_classes resource: mail deferred by a resource problem, to error_notice_recipient.</summary>
    PostmasterResource,
    /// <summary>notify_classes software: mail deferred by a software problem, to error_notice_recipient.</summary>
    PostmasterSoftware,
}

/// <summary>bounce(8)'s other notices: the delayed-mail warning to the sender (RFC 3464 Action: delayed) and the
/// postmaster copies that notify_classes asks for. The sender's non-delivery notice is <see cref="DsnWriter"/>.</summary>
/// <remarks>
/// Standards: RFC 3464 (message/delivery-status, Will-Retry-Until §2.3.8), RFC 6522 (multipart/report),
/// RFC 3834 §5 (Auto-Submitted). Postfix bounce_notify_service.c / bounce_warn_service.c: a postmaster copy
/// carries the per-recipient reasons and the original headers but not the boiler-plate text; every notice
/// returns headers only (delay warnings never return the message body).
/// Parameters: myhostname, mail_name, delay_warning_time, maximal_queue_lifetime (the template's numbers).
/// </remarks>
public sealed class NoticeBuilder(string myHostname, string mailName, TimeProvider clock)
{
    /// <summary>The notice of <paramref name="kind"/> about <paramref name="original"/>'s
    /// <paramref name="recipients"/>, addressed to <paramref name="to"/>.</summary>
    /// <param name="delayWarning">delay_warning_time, for the delay template's "more than N hour(s)".</param>
    /// <param name="lifetime">maximal_queue_lifetime: the template's "N day(s)" and Will-Retry-Until.</param>
    public MimeMessage Build(QueuedMessage original, IReadOnlyList<BouncedRecipient> recipients, NoticeKind kind, string to,
        TimeSpan delayWarning, TimeSpan lifetime)
    {
        var env = original.Envelope;
        bool delayed = kind != NoticeKind.PostmasterFailure;
        var notice = new MimeMessage();
        notice.From.Add(new MailboxAddress("Mail Delivery System", $"MAILER-DAEMON@{myHostname}"));
        notice.To.Add(MailboxAddress.Parse(to));
        notice.Subject = kind switch
        {
            NoticeKind.SenderDelay => "Delayed Mail (still being retried)",
            NoticeKind.PostmasterDelay => "Postmaster Warning: Delayed Mail",
            // DEVIATION: Postfix has no queue manager notice for these classes; the subjects are Posthorn's.
            NoticeKind.PostmasterResource => "Postmaster Warning: Delayed Mail (resource problem)",
            NoticeKind.PostmasterSoftware => "Postmaster Warning: Delayed Mail (software problem)",
            _ => "Postmaster Copy: Undelivered Mail",
        };
        notice.Date = clock.GetUtcNow();
        notice.MessageId = $"{clock.GetUtcNow().ToUnixTimeMilliseconds()}.{kind}.{original.Id}@{myHostname}";
        notice.Headers.Add("Auto-Submitted", "auto-replied");   // RFC 3834 §5

        var report = new MultipartReport("delivery-status");
        var human = new StringBuilder();
        if (kind == NoticeKind.SenderDelay) AppendDelayTemplate(human, delayWarning, lifetime);
        // Postfix: postmaster copies get the reasons only ("Don't bother sending the boiler-plate text").
        foreach (var r in recipients) human.Append('<').Append(r.Recipient).Append(">: ").Append(r.Text).Append('\n');
        report.Add(new TextPart("plain") { Text = human.ToString(), ContentDescription = "Notification" });

        var status = new MessageDeliveryStatus { ContentDescription = "Delivery report" };
        status.StatusGroups.Add(new HeaderList
        {
            { "Reporting-MTA", $"dns; {myHostname}" },
            { "X-Postfix-Queue-ID", original.Id.Value },
            { "X-Postfix-Sender", $"rfc822; {env.Sender}" },
            { "Arrival-Date", DateUtils.FormatDate(env.ArrivalTime) },
        });
        foreach (var r in recipients)
        {
            var group = new HeaderList { { "Final-Recipient", $"rfc822; {r.Recipient}" } };
            if (r.OriginalRecipient is { } orcpt) group.Add("Original-Recipient", $"rfc822;{orcpt}");
            // RFC 3464 §2.3.3: "delayed" for a warning, "failed" for a copy of a non-delivery notice.
            group.Add("Action", delayed ? "delayed" : "failed");
            group.Add("Status", r.Status.ToString());
            if (r.RemoteMta is { } mta) group.Add("Remote-MTA", $"dns; {mta}");
            group.Add("Diagnostic-Code", r.DiagnosticCode is { } code ? $"smtp; {code}" : $"X-Postfix; {r.Text}");
            // RFC 3464 §2.3.8 (Postfix bounce_notify_util.c): when the MTA gives up on a delayed recipient.
            if (delayed) group.Add("Will-Retry-Until", DateUtils.FormatDate(env.ArrivalTime + lifetime));
            status.StatusGroups.Add(group);
        }
        report.Add(status);

        // RFC 6522 §4: text/rfc822-headers, the header of the message only.
        report.Add(NoticeParts.HeadersPart(original,
            kind == NoticeKind.PostmasterFailure ? "Undelivered Message Headers" : "Delayed Message Headers"));
        notice.Body = report;
        return notice;
    }

    /// <summary>Postfix bounce.cf.default delay_template (with $delay_warning_time_hours and
    /// $maximal_queue_lifetime_days, whole numbers as Postfix prints them).</summary>
    private void AppendDelayTemplate(StringBuilder sb, TimeSpan delayWarning, TimeSpan lifetime)
    {
        string hours = ((long)delayWarning.TotalHours).ToString(CultureInfo.InvariantCulture);
        string days = ((long)lifetime.TotalDays).ToString(CultureInfo.InvariantCulture);
        sb.Append("This is the mail system at host ").Append(myHostname).Append(".\n\n");
        sb.Append("####################################################################\n");
        sb.Append("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n");
        sb.Append("####################################################################\n\n");
        sb.Append("Your message could not be delivered for more than ").Append(hours).Append(" hour(s).\n");
        sb.Append("It will be retried until it is ").Append(days).Append(" day(s) old.\n\n");
        NoticeParts.AppendClosing(sb, mailName);
    }

    /// <summary>Queues <paramref name="notice"/> as message <paramref name="id"/> in incoming/, from
    /// <paramref name="sender"/> (the null sender to a sender; double_bounce_sender to the postmaster).</summary>
    public async Task QueueAsync(QueueDirectory queue, QueueId id, MimeMessage notice, SmtpPath sender, SmtpPath recipient,
        CancellationToken ct)
    {
        await NoticeParts.QueueAsync(queue, id, notice, sender, recipient, clock.GetUtcNow(), ct).ConfigureAwait(false);
    }
}
