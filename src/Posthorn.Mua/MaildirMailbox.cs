using System.Globalization;
using System.Text;
using MimeKit;

namespace Posthorn.Mua;

/// <summary>A Maildir (new/ and cur/, one file per message; flags after ":2," in the name, S = seen).</summary>
/// <remarks>Messages are listed oldest first (file time, then name). Commit deletes the files of
/// deleted messages. DEVIATION: messages read are not moved from new/ to cur/.</remarks>
public sealed class MaildirMailbox : Mailbox
{
    public static MaildirMailbox Open(string path)
    {
        string root = path.TrimEnd('/');
        if (!Directory.Exists(System.IO.Path.Combine(root, "cur")) && !Directory.Exists(System.IO.Path.Combine(root, "new")))
            throw new FileNotFoundException($"{path}: no such Maildir", path);
        var box = new MaildirMailbox { Path = path };
        var files = new List<(FileInfo File, bool IsNew)>();
        foreach (string sub in new[] { "new", "cur" })
        {
            var dir = new DirectoryInfo(System.IO.Path.Combine(root, sub));
            if (!dir.Exists) continue;
            foreach (var f in dir.EnumerateFiles())
                if (!f.Name.StartsWith('.')) files.Add((f, sub == "new"));
        }
        files.Sort((a, b) => a.File.LastWriteTimeUtc != b.File.LastWriteTimeUtc
            ? a.File.LastWriteTimeUtc.CompareTo(b.File.LastWriteTimeUtc)
            : string.CompareOrdinal(a.File.Name, b.File.Name));
        foreach (var (file, isNew) in files)
        {
            HeaderList headers;
            using (var s = file.OpenRead()) headers = HeaderList.Load(s);
            var (from, subject) = Summary(headers, ReturnPath(headers));
            var (id, parents) = ThreadIds(headers);
            int flags = file.Name.IndexOf(":2,", StringComparison.Ordinal);
            var date = headers[HeaderId.Date] is { } d && MimeKit.Utils.DateUtils.TryParse(d, out var parsed) ? parsed : new DateTimeOffset(file.LastWriteTimeUtc);
            box.Entries.Add(new MailboxEntry
            {
                Number = box.Entries.Count + 1,
                From = from,
                Subject = subject,
                Date = DateColumn(date),
                Size = file.Length,
                Lines = CountLines(file),
                FilePath = file.FullName,
                MessageId = id,
                Parents = parents,
                Replied = flags >= 0 && file.Name.AsSpan(flags + 3).Contains('R'),
                State = isNew ? MessageState.New : flags >= 0 && file.Name.AsSpan(flags + 3).Contains('S') ? MessageState.Read : MessageState.Unread,
            });
        }
        return box;
    }

    private static string ReturnPath(HeaderList headers) => (headers[HeaderId.ReturnPath] ?? "MAILER-DAEMON").Trim().Trim('<', '>') is { Length: > 0 } rp ? rp : "MAILER-DAEMON";

    private static long CountLines(FileInfo file)
    {
        using var s = file.OpenRead();
        var buf = new byte[64 * 1024];
        long lines = 0;
        for (int n; (n = s.Read(buf)) > 0;) lines += buf.AsSpan(0, n).Count((byte)'\n');
        return lines;
    }

    public override MimeMessage Load(MailboxEntry e) => MimeMessage.Load(e.FilePath!);

    public override string FromLine(MailboxEntry e)
    {
        using var s = File.OpenRead(e.FilePath!);
        var when = new DateTimeOffset(File.GetLastWriteTimeUtc(e.FilePath!));
        return $"From {ReturnPath(HeaderList.Load(s))} {when.ToString("ddd MMM d HH:mm:ss yyyy", CultureInfo.InvariantCulture)}";
    }

    /// <summary>Postfix local(8) mbox form: From_ line, lines starting "From " quoted as ">From ", a blank line.</summary>
    public override void CopyAsMbox(MailboxEntry e, Stream to)
    {
        using var s = File.OpenRead(e.FilePath!);
        WriteMboxQuoted(FromLine(e), s, to);
    }

    public override int Commit()
    {
        foreach (var x in Entries.Where(x => x.Deleted))
            File.Delete(x.FilePath!);
        return Entries.Count(x => !x.Deleted);
    }
}
