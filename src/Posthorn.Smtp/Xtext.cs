using System.Text;

namespace Posthorn.Smtp;

/// <summary>RFC 3461 §4 xtext, the encoding of ENVID, ORCPT and AUTH= values.</summary>
/// <remarks>
/// <code>
/// xtext   = *( xchar / hexchar )
/// xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except for "+" and "="
/// hexchar = ASCII "+" immediately followed by two upper case hexadecimal digits
/// </code>
/// DEVIATION: like Postfix's xtext_unquote, lower-case hex digits are accepted when decoding.
/// </remarks>
public static class Xtext
{
    /// <summary>Decodes <paramref name="text"/>; false when it is not xtext or decodes to bytes that are not UTF-8.</summary>
    public static bool TryDecode(string text, out string decoded)
    {
        decoded = "";
        var bytes = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '+')
            {
                if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2])) return false;
                bytes.Add(Convert.ToByte(text.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (c is < '!' or > '~' or '=') return false;
            else bytes.Add((byte)c);
        }
        try
        {
            decoded = new UTF8Encoding(false, true).GetString(bytes.ToArray());
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>Encodes <paramref name="value"/> (UTF-8) as xtext: "+", "=", controls, space and 8-bit bytes as "+XX".</summary>
    public static string Encode(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(value))
        {
            if (b is >= 33 and <= 126 and not (byte)'+' and not (byte)'=') sb.Append((char)b);
            else sb.Append('+').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
