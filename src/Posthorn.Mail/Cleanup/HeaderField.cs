using System.Text;

namespace Posthorn.Mail.Cleanup;

/// <summary>One header field as received: its name and its raw lines (folding kept, LF line ends).</summary>
internal sealed class HeaderField(string name, byte[] raw)
{
    public string Name { get; } = name;

    /// <summary>The whole field, <c>Name: value LF</c> plus continuation lines.</summary>
    public byte[] Raw { get; set; } = raw;

    public bool Is(string name) => string.Equals(Name, name, StringComparison.OrdinalIgnoreCase);

    /// <summary>The bytes after the colon, folding included.</summary>
    public byte[] ValueBytes => Raw.AsSpan(Raw.AsSpan().IndexOf((byte)':') + 1).ToArray();

    /// <summary>The value unfolded and trimmed (RFC 5322 §2.2.3), for logging and presence checks.</summary>
    public string UnfoldedValue
    {
        get
        {
            string value = Encoding.UTF8.GetString(ValueBytes);
            return value.Replace("\r", "").Replace("\n", "").Trim();
        }
    }

    /// <summary>RFC 5322 §2.2: field-name = 1*ftext (printable US-ASCII except ':'), then ':'.
    /// Like Postfix is_header(), white space between the name and the colon is allowed.</summary>
    public static bool TryParseName(ReadOnlySpan<byte> line, out string name)
    {
        name = "";
        int i = 0;
        while (i < line.Length && line[i] is >= 33 and <= 126 and not (byte)':') i++;
        if (i == 0) return false;
        int end = i;
        while (i < line.Length && line[i] is (byte)' ' or (byte)'\t') i++;
        if (i >= line.Length || line[i] != ':') return false;
        name = Encoding.ASCII.GetString(line[..end]);
        return true;
    }
}
