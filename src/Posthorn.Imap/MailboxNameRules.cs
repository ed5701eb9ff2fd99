namespace Posthorn.Imap;

/// <summary>Whether a mailbox name a client sent is well formed: modified UTF-7 (RFC 3501 §5.1.3, kept by
/// RFC 9051 §5.1.3 for clients that have not enabled UTF8=ACCEPT) or, after ENABLE UTF8=ACCEPT, valid UTF-8
/// (RFC 6855 §3). A malformed name gets Dovecot's answer, <c>NO Mailbox name is not valid mUTF-7</c>.</summary>
/// <remarks>Refused in modified UTF-7: an 8-bit character; a shift that is not closed with "-"; a base64 character
/// outside the modified alphabet; a shift that encodes a printable US-ASCII character, which must represent
/// itself (the overlong form, "&amp;AGE-" for "a") or a control character; a shift of an odd number of octets, or with nonzero
/// leftover bits; a lone or reversed UTF-16 surrogate. In UTF-8: the replacement character, which is what the
/// command parser decodes a malformed sequence (an overlong "/" as C0 AF, a truncated one) to.
/// The path rules (no "..", "/", "~", control characters, depth) are the store's.</remarks>
public static class MailboxNameRules
{
    /// <summary>Null when <paramref name="name"/> is well formed, else the text of the NO.</summary>
    public static string? Check(string name, bool utf8Enabled)
    {
        if (name.Contains('\uFFFD')) return "Mailbox name is not valid UTF-8";
        if (utf8Enabled) return null;
        return IsModifiedUtf7(name) ? null : "Mailbox name is not valid mUTF-7";
    }

    /// <summary>RFC 3501 §5.1.3.</summary>
    public static bool IsModifiedUtf7(ReadOnlySpan<char> name)
    {
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (c > 0x7e) return false;
            if (c != '&') continue;
            int end = name[(i + 1)..].IndexOf('-');
            if (end < 0) return false;
            if (end > 0 && !IsValidShift(name.Slice(i + 1, end))) return false;
            i += end + 1;
        }
        return true;
    }

    /// <summary>The base64 between "&amp;" and "-": UTF-16BE of characters that cannot represent themselves.</summary>
    private static bool IsValidShift(ReadOnlySpan<char> b64)
    {
        int bits = 0, nbits = 0;
        int highSurrogate = -1;
        int units = 0;
        foreach (char c in b64)
        {
            int v = c switch
            {
                >= 'A' and <= 'Z' => c - 'A',
                >= 'a' and <= 'z' => c - 'a' + 26,
                >= '0' and <= '9' => c - '0' + 52,
                '+' => 62,
                ',' => 63,
                _ => -1,
            };
            if (v < 0) return false;
            bits = (bits << 6) | v;
            nbits += 6;
            if (nbits < 16) continue;
            nbits -= 16;
            int unit = (bits >> nbits) & 0xFFFF;
            bits &= (1 << nbits) - 1;
            units++;
            if (unit <= 0x7f) return false;
            if (unit is >= 0xD800 and <= 0xDBFF)
            {
                if (highSurrogate >= 0) return false;
                highSurrogate = unit;
            }
            else if (unit is >= 0xDC00 and <= 0xDFFF)
            {
                if (highSurrogate < 0) return false;
                highSurrogate = -1;
            }
            else if (highSurrogate >= 0) return false;
        }
        // Leftover bits are padding: fewer than 6 and all zero (RFC 2152's rule, which modified UTF-7 keeps).
        return units > 0 && highSurrogate < 0 && nbits < 6 && bits == 0;
    }
}
