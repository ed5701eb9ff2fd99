using MimeKit;
using MimeKit.IO;
using Posthorn.Mail.Delivery;

namespace Posthorn.Mua;

/// <summary>An mbox file (Postfix local(8) format: From_ line, ">From " quoting, a blank line
/// after each message), read by streaming it through MimeKit's parser in mbox mode.</summary>
/// <remarks>
/// Each message is the byte range from its From_ line to the next one. Commit copies the ranges
/// of the kept messages unchanged, plus whatever arrived after the mailbox was read, under the
/// locks local delivery takes (<see cref="MboxFile.Rewrite"/>).
/// DEVIATION: mailx also rewrites Status: headers on quit; Posthorn leaves kept messages byte-identical.
/// </remarks>
public sealed class MboxMailbox : Mailbox
{
    private const int BufferSize = 64 * 1024;

    private MboxFile.Locking _locking;
    private long _indexedLength;
    private readonly List<string> _fromLines = [];

    public static MboxMailbox Open(string path, MboxFile.Locking locking)
    {
        var box = new MboxMailbox { Path = path, _locking = locking };
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, BufferSize);
        box._indexedLength = file.Length;
        if (file.Length == 0) return box;
        var parser = new MimeParser(file, MimeFormat.Mbox, persistent: true);
        var starts = new List<(long Offset, string Marker, HeaderList Headers, DateTimeOffset Date)>();
        while (!parser.IsEndOfStream)
        {
            var msg = parser.ParseMessage();
            starts.Add((parser.MboxMarkerOffset, parser.MboxMarker ?? "", msg.Headers, msg.Date));
        }
        for (int i = 0; i < starts.Count; i++)
        {
            var (offset, marker, headers, date) = starts[i];
            long end = i + 1 < starts.Count ? starts[i + 1].Offset : box._indexedLength;
            string envelopeSender = marker.Length > 5 ? marker[5..].Split(' ', 2)[0] : "";
            var (from, subject) = Summary(headers, envelopeSender);
            var (id, parents) = ThreadIds(headers);
            box._fromLines.Add(marker.TrimEnd('\r', '\n'));
            box.Entries.Add(new MailboxEntry
            {
                Number = i + 1,
                From = from,
                Subject = subject,
                Date = FromLineDate(marker) ?? DateColumn(date),
                Size = end - offset,
                Offset = offset,
                MessageId = id,
                Parents = parents,
                State = StateOf(headers[HeaderId.Status]),
                // mutt writes X-Status: A for an answered message.
                Replied = headers["X-Status"] is { } xs && xs.Contains('A'),
            });
        }
        box.CountLines(file);
        return box;
    }

    /// <summary>mailx's N/U/read from the Status: header a reader left (R read, O old).</summary>
    private static MessageState StateOf(string? status) =>
        status is null ? MessageState.New : status.Contains('R') ? MessageState.Read : status.Contains('O') ? MessageState.Unread : MessageState.New;

    /// <summary>"From sender Tue Nov 25 13:17:00 2026" → "Tue Nov 25 13:17".</summary>
    private static string? FromLineDate(string marker)
    {
        string[] f = marker.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return f.Length >= 6 && f[5].Length >= 5 ? $"{f[2]} {f[3]} {f[4],2} {f[5][..5]}" : null;
    }

    /// <summary>One more pass over the file, counting the lines of each message.</summary>
    private void CountLines(FileStream file)
    {
        file.Position = 0;
        var buf = new byte[BufferSize];
        long pos = 0;
        int e = 0;
        while (e < Entries.Count)
        {
            int n = file.Read(buf);
            if (n == 0) break;
            int at = 0;
            while (at < n && e < Entries.Count)
            {
                long entryEnd = Entries[e].Offset + Entries[e].Size;
                int take = (int)Math.Min(n - at, entryEnd - (pos + at));
                Entries[e].Lines += buf.AsSpan(at, take).Count((byte)'\n');
                at += take;
                if (pos + at >= entryEnd) e++;
            }
            pos += n;
        }
    }

    public override string FromLine(MailboxEntry e) => _fromLines[e.Number - 1];

    public override MimeMessage Load(MailboxEntry e)
    {
        using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, BufferSize);
        using var range = new BoundStream(file, e.Offset, e.Offset + e.Size, leaveOpen: true);
        return new MimeParser(range, MimeFormat.Mbox).ParseMessage();
    }

    public override void CopyAsMbox(MailboxEntry e, Stream to)
    {
        using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, BufferSize);
        CopyRange(file, e.Offset, e.Size, to);
    }

    public override int Commit()
    {
        int kept = Entries.Count(x => !x.Deleted);
        if (kept == Entries.Count) return kept;
        MboxFile.Rewrite(Path, _locking, dotlockMayFail: true, (current, replacement) =>
        {
            // Someone else rewrote the mailbox meanwhile: keep theirs, lose nothing.
            if (current.Length < _indexedLength || !Entries.All(x => StartsWithFrom(current, x.Offset)))
                throw new IOException($"{Path}: mailbox changed while it was open; not rewritten");
            foreach (var x in Entries.Where(x => !x.Deleted).OrderBy(x => x.Offset)) CopyRange(current, x.Offset, x.Size, replacement);
            // New mail delivered while the mailbox was open stays.
            CopyRange(current, _indexedLength, current.Length - _indexedLength, replacement);
            return true;
        });
        return kept;
    }

    private static bool StartsWithFrom(Stream s, long offset)
    {
        Span<byte> five = stackalloc byte[5];
        s.Position = offset;
        return s.ReadAtLeast(five, 5, throwOnEndOfStream: false) == 5 && five.SequenceEqual("From "u8);
    }

    private static void CopyRange(Stream from, long offset, long length, Stream to)
    {
        from.Position = offset;
        var buf = new byte[BufferSize];
        while (length > 0)
        {
            int n = from.Read(buf, 0, (int)Math.Min(buf.Length, length));
            if (n == 0) throw new EndOfStreamException("mailbox ended early");
            to.Write(buf, 0, n);
            length -= n;
        }
    }
}
