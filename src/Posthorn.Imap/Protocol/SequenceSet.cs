using System.Text;

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
        foreach (var (lo, hi) in _ranges)
        {
            uint l = lo == Star ? largest : lo, h = hi == Star ? largest : hi;
            if (l > h) (l, h) = (h, l);
            if (value >= l && value <= h) return true;
        }
        return false;
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
