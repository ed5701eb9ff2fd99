using System.Globalization;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Tools;

/// <summary>mailq(1) / <c>postqueue -p</c>: lists the mail queue in Sendmail's mailq format, as
/// Postfix's showq(8) and postqueue showq_compat() print it.</summary>
/// <remarks>
/// Columns (Postfix showq_compat.c, short queue IDs): <c>"%-11s %7s %-20s %s"</c> for the
/// headings and recipient lines, <c>"%-11s %7ld %20.20s %s"</c> for the sender line, where the
/// first column is the queue ID plus <c>*</c> (active), <c>!</c> (hold) or a space, and the
/// arrival time is asctime(3) cut to 20 characters. A deferral reason is printed right-aligned
/// to column 78 as <c>(reason)</c> before the first recipient it applies to.
/// Postfix showq(8) walks maildrop, incoming, active, deferred and hold; the null sender shows
/// as MAILER-DAEMON (empty_address_recipient); done recipients are not shown.
/// DEVIATION: Posthorn reads the queue files itself instead of asking a showq daemon, as Postfix
/// does when the mail system is down.
/// </remarks>
public static class Mailq
{
    internal static readonly QueueName[] ShownQueues =
        [QueueName.Maildrop, QueueName.Incoming, QueueName.Active, QueueName.Deferred, QueueName.Hold];

    /// <summary><c>mailq</c> or <c>postqueue -p</c>; 0 on success, 64 (EX_USAGE) for other flags.</summary>
    public static int Run(string[] args, ToolContext ctx, string queueDirectory)
    {
        foreach (string arg in args)
        {
            if (arg is not "-p")
            {
                ctx.Err.WriteLine($"mailq: fatal: usage: mailq [-p]");
                return 64;
            }
        }
        var dir = new QueueDirectory(queueDirectory);
        var output = ctx.Out;
        long totalBytes = 0;
        int count = 0;
        foreach (var queue in ShownQueues)
        {
            foreach (var id in dir.List(queue))
            {
                QueuedMessage message;
                try
                {
                    message = QueueFile.Read(dir.PathOf(queue, id));
                }
                catch (FileNotFoundException)
                {
                    continue;   // delivered or moved while we looked
                }
                catch (QueueFileCorruptException e)
                {
                    ctx.Err.WriteLine($"mailq: warning: {e.Message}");
                    continue;
                }
                output.Write(count == 0 ? Row("-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------") : "\n");
                WriteMessage(output, dir, queue, message, ctx.Clock.LocalTimeZone);
                totalBytes += message.ContentLength;
                count++;
            }
        }
        if (count == 0)
            output.Write("Mail queue is empty\n");
        else
            output.Write($"\n-- {totalBytes / 1024} Kbytes in {count} Request{(count == 1 ? "" : "s")}.\n");
        return 0;
    }

    private static void WriteMessage(TextWriter output, QueueDirectory dir, QueueName queue, QueuedMessage message, TimeZoneInfo zone)
    {
        char status = queue switch { QueueName.Active => '*', QueueName.Hold => '!', _ => ' ' };
        string sender = message.Envelope.Sender.IsNull ? "MAILER-DAEMON" : message.Envelope.Sender.ToString();
        string arrival = AscTime(TimeZoneInfo.ConvertTime(message.Envelope.ArrivalTime, zone));
        output.Write(string.Create(CultureInfo.InvariantCulture,
            $"{message.Id.Value + status,-11} {message.ContentLength,7} {arrival[..20]} {sender}\n"));

        // The latest deferral reason per recipient (the defer log is appended to, newest last).
        var reasons = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (recipient, reason) in DeferLog.Read(dir, message.Id)) reasons[recipient] = reason;

        string savedReason = "";
        foreach (var r in message.Envelope.Recipients)
        {
            if (r.Done) continue;
            string why = reasons.GetValueOrDefault(r.Address, "");
            // Postfix showq_compat: print "(reason)" when it differs from the previous recipient's;
            // "(reason unavailable)" when the previous had one and this one has none.
            if (why != savedReason)
            {
                savedReason = why;
                string show = why.Length > 0 ? why : "reason unavailable";
                output.Write(new string(' ', Math.Max(0, 76 - show.Length)) + "(" + show + ")\n");
            }
            output.Write(Row("", "", "", r.Address));
        }
    }

    private static string Row(string a, string b, string c, string d) =>
        string.Create(CultureInfo.InvariantCulture, $"{a,-11} {b,7} {c,-20} {d}\n");

    /// <summary>asctime(3): <c>Tue Nov 25 13:17:08 2025</c>, day of month padded with a space.</summary>
    internal static string AscTime(DateTimeOffset t) =>
        t.ToString("ddd MMM ", CultureInfo.InvariantCulture) + t.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2)
        + t.ToString(" HH:mm:ss yyyy", CultureInfo.InvariantCulture);
}
