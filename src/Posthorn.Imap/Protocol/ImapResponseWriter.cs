using System.Buffers;
using System.Text;

namespace Posthorn.Imap;

/// <summary>Writes IMAP response syntax into a buffer writer (the session's PipeWriter).</summary>
/// <remarks>RFC 9051 §4.3: a string is sent quoted when it is short and has no CR, LF, NUL, 8-bit or
/// quoted-specials trouble; otherwise as a literal <c>{n}</c> CRLF octets.</remarks>
public sealed class ImapResponseWriter(IBufferWriter<byte> output)
{
    public long BytesWritten { get; private set; }

    public ImapResponseWriter Raw(ReadOnlySpan<byte> bytes)
    {
        output.Write(bytes);
        BytesWritten += bytes.Length;
        return this;
    }

    public ImapResponseWriter Ascii(string text)
    {
        int n = Encoding.UTF8.GetByteCount(text);
        var span = output.GetSpan(n);
        Encoding.UTF8.GetBytes(text, span);
        output.Advance(n);
        BytesWritten += n;
        return this;
    }

    /// <summary>A number in decimal, written straight into the buffer.</summary>
    public ImapResponseWriter Number(long n)
    {
        var span = output.GetSpan(20);
        n.TryFormat(span, out int written, default, System.Globalization.CultureInfo.InvariantCulture);
        output.Advance(written);
        BytesWritten += written;
        return this;
    }

    private static readonly byte[][] Months =
        [.. "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".Split(' ').Select(Encoding.ASCII.GetBytes)];

    /// <summary>RFC 9051 §9 date-time, quoted: <c>"dd-Mon-yyyy hh:mm:ss +hhmm"</c> (the day as two digits, which
    /// date-day-fixed allows), in the value's own offset.</summary>
    public ImapResponseWriter DateTime(DateTimeOffset value)
    {
        const int size = 28;
        var span = output.GetSpan(size);
        var d = value.DateTime;
        int offset = (int)value.Offset.TotalMinutes;
        span[0] = (byte)'"';
        Two(span[1..], d.Day);
        span[3] = (byte)'-';
        Months[d.Month - 1].CopyTo(span[4..]);
        span[7] = (byte)'-';
        Two(span[8..], d.Year / 100);
        Two(span[10..], d.Year % 100);
        span[12] = (byte)' ';
        Two(span[13..], d.Hour);
        span[15] = (byte)':';
        Two(span[16..], d.Minute);
        span[18] = (byte)':';
        Two(span[19..], d.Second);
        span[21] = (byte)' ';
        span[22] = (byte)(offset < 0 ? '-' : '+');
        offset = Math.Abs(offset);
        Two(span[23..], offset / 60);
        Two(span[25..], offset % 60);
        span[27] = (byte)'"';
        output.Advance(size);
        BytesWritten += size;
        return this;

        static void Two(Span<byte> to, int n)
        {
            to[0] = (byte)('0' + n / 10);
            to[1] = (byte)('0' + n % 10);
        }
    }

    public ImapResponseWriter Crlf() => Raw("\r\n"u8);

    /// <summary>nstring: NIL for null.</summary>
    public ImapResponseWriter NString(string? value) => value is null ? Raw("NIL"u8) : String(value);

    public ImapResponseWriter String(string value)
    {
        bool quotable = value.Length < 1024;
        foreach (char c in value)
        {
            if (c is '\r' or '\n' or '\0' || c >= 0x80) { quotable = false; break; }
        }
        if (!quotable) return Literal(Encoding.UTF8.GetBytes(value));
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (char c in value)
        {
            if (c is '"' or '\\') sb.Append('\\');
            sb.Append(c);
        }
        return Ascii(sb.Append('"').ToString());
    }

    /// <summary>astring: an atom when every character allows it, else a string (mailbox names).</summary>
    public ImapResponseWriter AString(string value)
    {
        bool atom = value.Length > 0;
        foreach (char c in value)
        {
            if (c <= ' ' || c >= 0x7f || c is '(' or ')' or '{' or '%' or '*' or '"' or '\\' or ']') { atom = false; break; }
        }
        return atom ? Ascii(value) : String(value);
    }

    public ImapResponseWriter Literal(ReadOnlySpan<byte> bytes)
    {
        Ascii("{" + bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}\r\n");
        return Raw(bytes);
    }
}
