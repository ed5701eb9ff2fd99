using System.Globalization;
using System.Text;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Tools;

/// <summary><c>postqueue -j</c>: the queue as JSON lines, one object per queue file, as Postfix 3.1+ prints it.</summary>
/// <remarks>
/// Postfix postqueue(1) "JSON OBJECT FORMAT": each object is one text line followed by a newline; members
/// <c>queue_name</c>, <c>queue_id</c>, <c>arrival_time</c> (a number: seconds since the epoch),
/// <c>message_size</c> (a number), <c>forced_expire</c> (true or false, Postfix 3.5+), <c>sender</c>
/// and <c>recipients</c>, an array of objects with <c>address</c> and, "if present", <c>delay_reason</c>.
/// Members are written as Postfix's showq does, <c>"name": value</c> separated by <c>", "</c>, in that order.
/// The queues are walked as for <c>postqueue -p</c> (maildrop, incoming, active, deferred, hold); done
/// recipients are left out; the null sender is the empty string (the MAILER-DAEMON substitute is the
/// -p listing's). Standards: RFC 8259 (RFC 7159) strings: <c>"</c> and <c>\</c> are escaped, control
/// characters are written as \b \f \n \r \t or \u00XX, everything else (UTF-8 included) as is.
/// DEVIATION: forced_expire is always false: postsuper -e/-f (forced expiration) does not exist in Posthorn.
/// </remarks>
public static class PostqueueJson
{
    /// <summary>Writes one line per message in the queue; returns the number of messages written.</summary>
    public static int Write(TextWriter output, TextWriter errors, string queueDirectory)
    {
        var dir = new QueueDirectory(queueDirectory);
        int count = 0;
        foreach (var queue in Mailq.ShownQueues)
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
                    continue;   // delivered or moved while we looked (postqueue(1): "some messages may be missed")
                }
                catch (QueueFileCorruptException e)
                {
                    errors.WriteLine($"postqueue: warning: {e.Message}");
                    continue;
                }
                var reasons = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var (recipient, reason) in DeferLog.Read(dir, id)) reasons[recipient] = reason;
                output.Write(Line(queue.DirectoryName(), message, reasons));
                count++;
            }
        }
        return count;
    }

    /// <summary>One message's object and its newline.</summary>
    internal static string Line(string queueName, QueuedMessage message, IReadOnlyDictionary<string, string> delayReasons)
    {
        var env = message.Envelope;
        var sb = new StringBuilder(256);
        sb.Append("{\"queue_name\": ");
        AppendString(sb, queueName);
        sb.Append(", \"queue_id\": ");
        AppendString(sb, message.Id.Value);
        sb.Append(", \"arrival_time\": ").Append(env.ArrivalTime.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        sb.Append(", \"message_size\": ").Append(message.ContentLength.ToString(CultureInfo.InvariantCulture));
        sb.Append(", \"forced_expire\": false");
        sb.Append(", \"sender\": ");
        AppendString(sb, env.Sender.IsNull ? "" : env.Sender.ToString());
        sb.Append(", \"recipients\": [");
        bool first = true;
        foreach (var r in env.Recipients)
        {
            if (r.Done) continue;
            if (!first) sb.Append(", ");
            first = false;
            sb.Append("{\"address\": ");
            AppendString(sb, r.Address);
            // postqueue(1): "delay_reason: If present, the reason for delayed delivery."
            if (delayReasons.TryGetValue(r.Address, out var why) && why.Length > 0)
            {
                sb.Append(", \"delay_reason\": ");
                AppendString(sb, why);
            }
            sb.Append('}');
        }
        sb.Append("]}\n");
        return sb.ToString();
    }

    /// <summary>RFC 8259 §7: a quoted string; the two characters that must be escaped, and every control character.</summary>
    internal static void AppendString(StringBuilder sb, string value)
    {
        sb.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20 || c == 0x7f) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
