using System.Globalization;
using System.Text;
using MimeKit;
using MimeKit.Utils;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Daemon.Qmgr;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Tools;

/// <summary><c>sendmail -bv</c>: Postfix sendmail(1) "Do not collect or deliver a message. Instead, send an email report
/// after verifying each recipient address. This is useful for testing address rewriting and routing configurations."</summary>
/// <remarks>
/// Each recipient (qualified with $myorigin as cleanup would) is resolved as the queue manager resolves it
/// (<see cref="AddressRouter"/>: address class, transport_maps, relayhost). A local-class recipient is then checked
/// against the local recipient table as local(8) sees it (users and aliases). The report is mailed to the sender
/// (-f, else the login name) from MAILER-DAEMON with the null sender, in Postfix's verify wording (bounce.cf.default
/// verify_template, "Mail Delivery Status Report"), as an RFC 3464 multipart/report whose per-recipient Action is
/// <c>deliverable</c> or <c>undeliverable</c>, as Postfix writes them. It goes through maildrop and pickup like any
/// local submission, so any user may ask.
/// DEVIATION: Postfix lets each delivery agent verify the address (smtp(8) asks the remote server; local(8) expands
/// aliases and .forward). Posthorn reports the route without contacting remote servers or reading .forward files.
/// Exit: 0 once the report is in maildrop; EX_USAGE (64) without recipients; EX_TEMPFAIL (75) when maildrop is not writable.
/// </remarks>
public static partial class Sendmail
{
    /// <summary>One line of the report.</summary>
    internal sealed record VerifyResult(string Recipient, bool Deliverable, EnhancedStatus Status, string Text);

    private static async Task<int> VerifyAsync(ToolContext ctx, ConfigSnapshot cfg, Request r)
    {
        if (r.Recipients.Count == 0)
            return Usage(ctx, "Recipient addresses must be specified on the command line or via the -t option");
        var settings = Settings.From(cfg, MailLog.Discard);
        string origin = cfg.Get("myorigin");
        var local = new LocalTransport(settings.Local, new PasswdUserDatabase(), ctx.Clock, MailLog.Discard);
        var results = r.Recipients.Select(a => Verify(Qualify(a, origin), settings.Router, local.IsLocalRecipient)).ToList();

        string sender = Qualify(r.Sender ?? Environment.UserName, origin);
        var report = BuildVerifyReport(cfg.Get("myhostname"), cfg.Get("mail_name"), sender, results, ctx.Clock);
        var bytes = new MemoryStream();
        await report.WriteToAsync(new FormatOptions { NewLineFormat = NewLineFormat.Unix }, bytes);

        var dir = new QueueDirectory(cfg.Get("queue_directory"));
        var id = new QueueIdGenerator(ctx.Clock).Next();
        var attributes = new Dictionary<string, string>
        {
            [QueueEnvelope.RewriteContextAttribute] = "local",
            [QueueEnvelope.UidAttribute] = UnixUser.RealUserId().ToString(CultureInfo.InvariantCulture),
        };
        try
        {
            await using var writer = QueueFileWriter.Create(dir, id, QueueName.Maildrop);
            await writer.WriteAsync(bytes.GetBuffer().AsMemory(0, (int)bytes.Length), CancellationToken.None);
            // RFC 5321 §4.5.5: a report is sent with the null reverse-path, so it never bounces back.
            await writer.CommitAsync(new QueueEnvelope(SmtpPath.Null, [new QueueRecipient(sender)], ctx.Clock.GetUtcNow(), attributes),
                CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ctx.Err.WriteLine($"sendmail: fatal: {Environment.UserName}: unable to queue the report: {e.Message}");
            return ExTempFail;
        }
        await WakePickupAsync(dir.Root);
        return 0;
    }

    /// <summary>cleanup(8)'s append_at_myorigin for a bare user name.</summary>
    private static string Qualify(string address, string myorigin) =>
        address.Contains('@', StringComparison.Ordinal) || myorigin.Length == 0 ? address : address + "@" + myorigin;

    /// <summary>Where one recipient would go, in Postfix's report wording ("delivery via TRANSPORT: …").</summary>
    internal static VerifyResult Verify(string address, AddressRouter router, Func<string, bool> isLocalRecipient)
    {
        var route = router.Resolve(address);
        switch (route.Transport)
        {
            case "error":
                // Postfix error(8): the next hop is the reason, optionally with its status code.
                return Undeliverable(address, route.NextHop, "5.0.0");
            case "retry":
                return Undeliverable(address, route.NextHop, "4.0.0");
        }
        int at = address.LastIndexOf('@');
        string localPart = at < 0 ? address : address[..at];
        if (route.Class == AddressClass.Local && !isLocalRecipient(localPart))
            // Postfix local(8): "unknown user: \"name\"" (5.1.1).
            return new VerifyResult(address, false, EnhancedStatus.Parse("5.1.1"), $"unknown user: \"{localPart.ToLowerInvariant()}\"");
        string where = route.Class == AddressClass.Local
            ? "delivers to local recipient " + localPart.ToLowerInvariant()
            : $"deliverable via {route.Transport} to {route.NextHop}";
        return new VerifyResult(address, true, EnhancedStatus.Parse("2.0.0"), $"delivery via {route.Transport}: {where}");
    }

    private static VerifyResult Undeliverable(string address, string nexthop, string defaultStatus)
    {
        // "5.1.1 text" or just "text": a leading enhanced status code is the status.
        int space = nexthop.IndexOf(' ', StringComparison.Ordinal);
        if (space > 0 && EnhancedStatus.TryParse(nexthop.AsSpan(0, space), out var status))
            return new VerifyResult(address, false, status, nexthop[(space + 1)..]);
        return new VerifyResult(address, false, EnhancedStatus.Parse(defaultStatus), nexthop);
    }

    /// <summary>The report: Postfix bounce.cf.default verify_template and an RFC 3464 delivery-status part.</summary>
    internal static MimeMessage BuildVerifyReport(string myhostname, string mailName, string sender, IReadOnlyList<VerifyResult> results,
        TimeProvider clock)
    {
        var text = new StringBuilder();
        text.Append("This is the mail system at host ").Append(myhostname).Append(".\n\n");
        text.Append("Enclosed is the mail delivery report that you requested.\n\n");
        text.Append("                   The ").Append(mailName).Append(" program\n\n");
        foreach (var v in results) text.Append('<').Append(v.Recipient).Append(">: ").Append(v.Text).Append('\n');

        var report = new MultipartReport("delivery-status");
        report.Add(new TextPart("plain") { Text = text.ToString(), ContentDescription = "Notification" });
        var status = new MessageDeliveryStatus { ContentDescription = "Delivery report" };
        // RFC 3464 §2.2: per-message fields; §2.3: one group per recipient.
        status.StatusGroups.Add(new HeaderList
        {
            { "Reporting-MTA", $"dns; {myhostname}" },
            { "X-Postfix-Sender", $"rfc822; {sender}" },
            { "Arrival-Date", DateUtils.FormatDate(clock.GetUtcNow()) },
        });
        foreach (var v in results)
        {
            status.StatusGroups.Add(new HeaderList
            {
                { "Final-Recipient", $"rfc822; {v.Recipient}" },
                // Postfix verify reports: "deliverable" / "undeliverable" (its extension of RFC 3464 §2.3.3).
                { "Action", v.Deliverable ? "deliverable" : "undeliverable" },
                { "Status", v.Status.ToString() },
                { "Diagnostic-Code", $"X-Postfix; {v.Text}" },
            });
        }
        report.Add(status);

        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Mail Delivery System", $"MAILER-DAEMON@{myhostname}"));
        message.To.Add(MailboxAddress.Parse(sender));
        message.Subject = "Mail Delivery Status Report";
        message.Date = clock.GetUtcNow();
        message.MessageId = MimeUtils.GenerateMessageId(myhostname);
        message.Headers.Add("Auto-Submitted", "auto-replied");   // RFC 3834 §5
        message.Body = report;
        return message;
    }
}
