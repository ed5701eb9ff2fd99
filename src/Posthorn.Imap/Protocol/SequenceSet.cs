using System.Text;
using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>An IMAP sequence set (RFC 9051 §9 sequence-set): "1,3:5,7:*".</summary>
/// <remarks><c>seq-number = nz-number / "*"</c>; "*" is the largest number in use (the message count,
/// or the highest UID), and a range may be written either way round (RFC 9051 §9 seq-range).</remarks>
public sealed class SequenceSet
{
    private readonly (uint Low, uint High)[] _ranges;

    private SequenceSet((uint, uint)[] ranges) => _ranges = ranges;

    /// <summary>uint.MaxValue stands for "*" in the stored ranges.</summary>
    public const uint Star = uint.MaxValue;

    public static bool TryParse(ReadOnlySpan<byte> s, out SequenceSet set)
    {
        set = null!;
        var ranges = new List<(uint, uint)>();
        foreach (var range in s.Split((byte)','))
        {
            var part = s[range];
            int colon = part.IndexOf((byte)':');
            if (colon < 0)
            {
                if (!TryNumber(part, out uint n)) return false;
                ranges.Add((n, n));
            }
            else
            {
                if (!TryNumber(part[..colon], out uint a) || !TryNumber(part[(colon + 1)..], out uint b)) return false;
                ranges.Add((Math.Min(a, b), Math.Max(a, b)));
            }
        }
        if (ranges.Count == 0) return false;
        set = new SequenceSet(ranges.ToArray());
        return true;
    }

    private static bool TryNumber(ReadOnlySpan<byte> s, out uint n)
    {
        n = 0;
        if (s.Length == 1 && s[0] == (byte)'*') { n = Star; return true; }
        if (!ImapCommandParser.TryParseNumber(s, out long v) || v is < 1 or > uint.MaxValue - 1) return false;
        n = (uint)v;
        return true;
    }

    /// <summary>Whether <paramref name="value"/> is in the set, with "*" meaning <paramref name="largest"/>.</summary>
    public bool Contains(uint value, uint largest)
    {
        foreach (var range in _ranges)
        {
            var (l, h) = Resolved(range, largest);
            if (value >= l && value <= h) return true;
        }
        return false;
    }

    /// <summary>The indexes into <paramref name="messages"/> (a mailbox view, ascending UIDs) that the set names by
    /// sequence number, or with <paramref name="uid"/> by UID, ascending and each once.</summary>
    /// <remarks>Each range is found by binary search in the view, so that <c>UID FETCH 4711 BODY.PEEK[]</c> in a mailbox
    /// of 100,000 messages costs a few comparisons, not one test per message.</remarks>
    public List<int> Indexes(IReadOnlyList<MessageInfo> messages, bool uid)
    {
        var result = new List<int>();
        if (messages.Count == 0) return result;
        // RFC 9051 §6.4.8: "*" is the largest UID in use in the mailbox (the largest sequence number: the count).
        uint largest = uid ? messages[^1].Uid : (uint)messages.Count;
        var spans = new List<(int From, int To)>(_ranges.Length);
        foreach (var range in _ranges)
        {
            var (l, h) = Resolved(range, largest);
            int from = uid ? FirstUidAtLeast(messages, l) : (int)Math.Min(l - 1L, messages.Count);
            int to = uid ? FirstUidAtLeast(messages, h + 1L) - 1 : (int)Math.Min(h, (long)messages.Count) - 1;
            if (from <= to) spans.Add((from, to));
        }
        spans.Sort();
        int next = 0;   // the first index not given yet: overlapping ranges give each message once
        foreach (var (from, to) in spans)
        {
            for (int i = Math.Max(from, next); i <= to; i++) result.Add(i);
            next = Math.Max(next, to + 1);
        }
        return result;
    }

    /// <summary>A range with "*" as <paramref name="largest"/>, low end first (RFC 9051 §9: "*:4" is "4:*").</summary>
    private static (uint Low, uint High) Resolved((uint Low, uint High) range, uint largest)
    {
        uint l = range.Low == Star ? largest : range.Low, h = range.High == Star ? largest : range.High;
        return l <= h ? (l, h) : (h, l);
    }

    /// <summary>The index of the first message whose UID is at least <paramref name="uid"/> (the count when none is).</summary>
    private static int FirstUidAtLeast(IReadOnlyList<MessageInfo> messages, long uid)
    {
        int lo = 0, hi = messages.Count;
        while (lo < hi)
        {
            int mid = lo + (hi - lo) / 2;
            if (messages[mid].Uid < uid) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Formats UIDs as a compact set ("3:5,9") for COPYUID/APPENDUID (RFC 4315 §3).</summary>
    public static string Format(IEnumerable<uint> values)
    {
        var sb = new StringBuilder();
        uint start = 0, prev = 0;
        bool any = false;
        foreach (uint v in values)
        {
            if (any && v == prev + 1) { prev = v; continue; }
            if (any) Append(sb, start, prev);
            start = prev = v;
            any = true;
        }
        if (any) Append(sb, start, prev);
        return sb.ToString();

        static void Append(StringBuilder sb, uint a, uint b)
        {
            if (sb.Length > 0) sb.Append(',');
            sb.Append(a);
            if (b != a) sb.Append(':').Append(b);
        }
    }
}
