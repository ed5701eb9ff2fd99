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

    public ImapResponseWriter Number(long n) => Ascii(n.ToString(System.Globalization.CultureInfo.InvariantCulture));

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
