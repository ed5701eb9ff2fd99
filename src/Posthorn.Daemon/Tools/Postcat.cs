using System.Globalization;
using System.Text;
using Posthorn.Core;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Tools;

/// <summary>postcat(1): shows a queue file — envelope records, message content — in Postfix's sections.</summary>
/// <remarks>
/// <c>postcat [-b] [-e] [-h] [-q] files...</c>. With <c>-q</c> the arguments are queue IDs, looked
/// up in every queue; otherwise they are file names. <c>-e</c>, <c>-h</c> and <c>-b</c> select the
/// envelope, the message header and the message body (default: all three).
/// Output, as Postfix prints it, for a file shown as <c>queue/ID</c>:
/// <c>*** ENVELOPE RECORDS deferred/ID ***</c>, one <c>name: value</c> line per record
/// (message_size, message_arrival_time, named_attribute, sender, original_recipient,
/// recipient or done_recipient), <c>*** MESSAGE CONTENTS deferred/ID ***</c> and the content,
/// <c>*** HEADER EXTRACTED deferred/ID ***</c>, <c>*** MESSAGE FILE END deferred/ID ***</c>.
/// DEVIATION: message_size shows Posthorn's fields (content size, content offset, recipient count).
/// Exit: 0, or 1 when a file cannot be opened or is corrupt (Postfix msg_fatal).
/// </remarks>
public static class Postcat
{
    public static int Run(string[] args, ToolContext ctx, string queueDirectory)
    {
        bool byId = false, envelope = false, header = false, body = false;
        var names = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--") { names.AddRange(args[(i + 1)..]); break; }
            if (a.Length > 1 && a[0] == '-')
            {
                foreach (char c in a.AsSpan(1))
                {
                    switch (c)
                    {
                        case 'q': byId = true; break;
                        case 'e': envelope = true; break;
                        case 'h': header = true; break;
                        case 'b': body = true; break;
                        case 'o' or 'r' or 's' or 'v': break;
                        case 'c' when i + 1 < args.Length: i++; break;
                        default:
                            ctx.Err.WriteLine("postcat: fatal: usage: postcat [-bhov] [-c config_dir] [-q] [files...]");
                            return 1;
                    }
                }
                continue;
            }
            names.Add(a);
        }
        if (!envelope && !header && !body) envelope = header = body = true;
        var dir = new QueueDirectory(queueDirectory);
        foreach (string name in names)
        {
            string path, shown;
            if (byId)
            {
                if (!QueueId.TryParse(name, out var id) || !dir.TryFind(id, out var q))
                {
                    ctx.Err.WriteLine($"postcat: fatal: open queue file {name}: No such file or directory");
                    return 1;
                }
                path = dir.PathOf(q, id);
                shown = $"{q.DirectoryName()}/{id}";
            }
            else
            {
                path = name;
                shown = name;
            }
            try
            {
                Show(ctx.Out, QueueFile.Read(path), shown, envelope, header, body, ctx.Clock.LocalTimeZone);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or QueueFileCorruptException)
            {
                ctx.Err.WriteLine($"postcat: fatal: open {name}: {e.Message}");
                return 1;
            }
        }
        return 0;
    }

    private static void Show(TextWriter output, QueuedMessage m, string shown, bool envelope, bool header, bool body, TimeZoneInfo zone)
    {
        if (envelope)
        {
            var env = m.Envelope;
            output.Write($"*** ENVELOPE RECORDS {shown} ***\n");
            output.Write(string.Create(CultureInfo.InvariantCulture,
                $"message_size: {m.ContentLength,15} {m.ContentOffset,15} {env.Recipients.Count,15}\n"));
            string arrival = Mailq.AscTime(TimeZoneInfo.ConvertTime(env.ArrivalTime, zone));
            output.Write($"message_arrival_time: {arrival}\n");
            output.Write($"create_time: {arrival}\n");
            foreach (var (name, value) in env.Attributes) output.Write($"named_attribute: {name}={value}\n");
            output.Write($"sender: {env.Sender}\n");
            foreach (var r in env.Recipients)
            {
                if (r.OriginalRecipient is { } orig) output.Write($"original_recipient: {orig}\n");
                if (r.DsnOriginalRecipient is { } orcpt) output.Write($"dsn_orig_rcpt: {orcpt}\n");
                if (r.Notify != DsnNotifyFlags.Unspecified) output.Write($"dsn_notify_flags: {(int)r.Notify}\n");
                output.Write($"{(r.Done ? "done_recipient" : "recipient")}: {r.Address}\n");
            }
        }
        if (header || body)
        {
            output.Write($"*** MESSAGE CONTENTS {shown} ***\n");
            using var content = m.OpenContent();
            using var reader = new StreamReader(content, new UTF8Encoding(false, false));
            bool inHeader = true;
            while (reader.ReadLine() is { } line)
            {
                if ((inHeader && header) || (!inHeader && body)) output.Write(line + "\n");
                if (inHeader && line.Length == 0) inHeader = false;
            }
            output.Write($"*** HEADER EXTRACTED {shown} ***\n");
        }
        output.Write($"*** MESSAGE FILE END {shown} ***\n");
    }
}
