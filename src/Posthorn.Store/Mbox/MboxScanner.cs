using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Posthorn.Store.Mbox;

/// <summary>One message found in an mbox: where its From_ line starts, where the next one starts (or
/// the end of the file), its key, the flags its Status/X-Status headers carry, its served size and
/// the date of its From_ line (INTERNALDATE, as Dovecot takes it), and its X-Keywords.</summary>
internal readonly record struct MboxScan(long Offset, long End, string Key, MessageFlags Flags, bool Old, long Size, DateTimeOffset Date,
    IReadOnlyList<string> Keywords);

/// <summary>Finds the messages of an mbox: each starts at a line beginning "From " (RFC 4155 §2;
/// Postfix quotes every other such line as "&gt;From "). Reads the file once, in 64 KiB pieces;
/// a line longer than that is handled in parts, so no message is ever held in memory.</summary>
internal static class MboxScanner
{
    public delegate void LineHandler(long offset, ReadOnlySpan<byte> piece, bool lineStart, bool lineEnd);

    private const int BufferSize = 65536;

    /// <summary>Scans [<paramref name="start"/>, <paramref name="end"/>); bytes before the first From_ line are not mail.</summary>
    public static List<MboxScan> Scan(SafeFileHandle h, long start, long end, TimeZoneInfo zone, DateTimeOffset fallbackDate)
    {
        var found = new List<MboxScan>();
        MboxMessageFilter? current = null;
        long offset = 0;
        DateTimeOffset date = fallbackDate;
        try
        {
            ForEachLine(h, start, end, (pos, piece, lineStart, lineEnd) =>
            {
                if (lineStart && piece.StartsWith("From "u8))
                {
                    if (current is not null) found.Add(Finish(current, offset, pos, date));
                    current?.Dispose();
                    current = new MboxMessageFilter(piece, emit: null);
                    offset = pos;
                    date = ParseFromLineDate(piece, zone) ?? fallbackDate;
                    return;
                }
                current?.Line(piece, lineStart, lineEnd);
            });
            if (current is not null) found.Add(Finish(current, offset, end, date));
        }
        finally
        {
            current?.Dispose();
        }
        return found;
    }

    private static MboxScan Finish(MboxMessageFilter f, long offset, long end, DateTimeOffset date)
    {
        string key = f.Finish();
        return new MboxScan(offset, end, key, f.Flags, f.Old, f.Size, date, f.Keywords.ToArray());
    }

    /// <summary>Calls <paramref name="handler"/> for every line of the range; lines up to 64 KiB come whole.</summary>
    public static void ForEachLine(SafeFileHandle h, long start, long end, LineHandler handler)
    {
        var buf = new byte[BufferSize];
        long pos = start;
        bool lineStart = true;
        while (pos < end)
        {
            int want = (int)Math.Min(buf.Length, end - pos);
            int n = RandomAccess.Read(h, buf.AsSpan(0, want), pos);
            if (n <= 0) break;
            var chunk = buf.AsSpan(0, n);
            int i = 0;
            while (i < n)
            {
                int nl = chunk[i..].IndexOf((byte)'\n');
                if (nl >= 0)
                {
                    handler(pos + i, chunk.Slice(i, nl + 1), lineStart, true);
                    i += nl + 1;
                    lineStart = true;
                    continue;
                }
                // A partial line at the end of the buffer: read it again from its start next time,
                // unless it fills the whole buffer or the range ends here.
                if (i > 0 && pos + n < end) break;
                handler(pos + i, chunk[i..], lineStart, false);
                i = n;
                lineStart = false;
            }
            pos += i;
        }
    }

    /// <summary>The date of a From_ line <c>From sender  Www Mmm dd hh:mm:ss yyyy</c> (asctime(3), local
    /// time), optionally followed by a zone; null when it does not parse.</summary>
    internal static DateTimeOffset? ParseFromLineDate(ReadOnlySpan<byte> line, TimeZoneInfo zone)
    {
        string text = Encoding.ASCII.GetString(line).TrimEnd('\r', '\n');
        var t = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (int i = t.Length - 4; i >= 2; i--)
        {
            string s = $"{t[i]} {t[i + 1]} {t[i + 2]} {t[i + 3]}";
            if (DateTime.TryParseExact(s, "MMM d HH:mm:ss yyyy", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
            {
                var offset = zone.GetUtcOffset(local);
                if (i + 4 < t.Length && TryParseZone(t[i + 4], out var z)) offset = z;
                return new DateTimeOffset(local, offset);
            }
        }
        return null;
    }

    private static bool TryParseZone(string s, out TimeSpan offset)
    {
        offset = default;
        if (s.Length != 5 || s[0] is not ('+' or '-') || !int.TryParse(s.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int hhmm))
            return false;
        offset = new TimeSpan(hhmm / 100, hhmm % 100, 0) * (s[0] == '-' ? -1 : 1);
        return true;
    }
}
