using System.Text;

namespace Posthorn.Imap;

/// <summary>What a token of an IMAP command is: an atom (also NIL, numbers, flags, sequence sets and
/// <c>BODY[...]&lt;...&gt;</c> fetch items), a string (quoted or literal), or a parenthesized list.</summary>
public enum ImapTokenKind { Atom, String, List }

/// <summary>One token of a command; <see cref="Bytes"/> for atoms and strings, <see cref="Items"/> for lists.</summary>
public sealed class ImapToken
{
    public ImapTokenKind Kind { get; init; }
    public ReadOnlyMemory<byte> Bytes { get; init; }
    public IReadOnlyList<ImapToken> Items { get; init; } = [];
    public bool IsLiteral { get; init; }

    /// <summary>The value as text (UTF-8, RFC 9051 §4.3: strings may be UTF-8 once UTF8=ACCEPT is enabled).</summary>
    public string Text => Encoding.UTF8.GetString(Bytes.Span);

    public bool IsAtom(string value) => Kind == ImapTokenKind.Atom && Text.Equals(value, StringComparison.OrdinalIgnoreCase);

    public override string ToString() => Kind == ImapTokenKind.List ? "(" + string.Join(' ', Items) + ")" : Text;
}

/// <summary>A parsed command line: tag, command name (upper case) and arguments.</summary>
public sealed record ImapCommand(string Tag, string Name, IReadOnlyList<ImapToken> Args);

/// <summary>Parses IMAP commands from bytes (RFC 9051 §9 formal syntax, the parts a server reads).</summary>
/// <remarks>
/// A command arrives as one buffer: its lines with their CRLFs and the literal octets inline after
/// each <c>{n}</c> / <c>{n+}</c> line end (RFC 9051 §4.3, RFC 7888 LITERAL+), assembled by the session
/// under the literal size limit before this parser sees them. Pure and synchronous; nesting deeper than
/// <see cref="MaxDepth"/> is refused rather than recursed into.
/// <code>
/// command  = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF
/// tag      = 1*&lt;any ASTRING-CHAR except "+"&gt;
/// string   = quoted / literal ; quoted = DQUOTE *QUOTED-CHAR DQUOTE ; literal = "{" number64 ["+"] "}" CRLF *CHAR8
/// </code>
/// </remarks>
public static class ImapCommandParser
{
    public const int MaxDepth = 64;

    /// <summary>Parses a complete command; on failure <paramref name="error"/> says why and <paramref name="tag"/>
    /// is the tag when one could be read ("*" otherwise).</summary>
    public static bool TryParse(ReadOnlySpan<byte> command, out ImapCommand parsed, out string tag, out string error)
    {
        parsed = null!;
        tag = "*";
        int pos = 0;
        int tagEnd = command.IndexOfAny((byte)' ', (byte)'\r', (byte)'\n');
        if (tagEnd <= 0) { error = "Error in IMAP command received by server."; return false; }
        foreach (byte b in command[..tagEnd])
        {
            // RFC 9051 §9: tag is ASTRING-CHAR except "+".
            if (b == (byte)'+' || !IsAtomChar(b) && b != (byte)']') { error = "Invalid tag."; return false; }
        }
        tag = Encoding.ASCII.GetString(command[..tagEnd]);
        pos = tagEnd;
        if (pos >= command.Length || command[pos] != (byte)' ') { error = "Missing command."; return false; }
        pos++;
        int nameEnd = pos;
        while (nameEnd < command.Length && IsAtomChar(command[nameEnd])) nameEnd++;
        if (nameEnd == pos) { error = "Missing command."; return false; }
        string name = Encoding.ASCII.GetString(command[pos..nameEnd]).ToUpperInvariant();
        pos = nameEnd;
        var args = new List<ImapToken>();
        if (!TryParseTokens(command, ref pos, args, 0, out error)) return false;
        parsed = new ImapCommand(tag, name, args);
        return true;
    }

    private static bool TryParseTokens(ReadOnlySpan<byte> s, ref int pos, List<ImapToken> into, int depth, out string error)
    {
        error = "";
        while (true)
        {
            if (pos >= s.Length) { error = depth > 0 ? "Missing ')'." : "Missing CRLF."; return false; }
            byte c = s[pos];
            if (c == (byte)'\r' || c == (byte)'\n')
            {
                if (depth > 0) { error = "Missing ')'."; return false; }
                return true;
            }
            if (c == (byte)')')
            {
                if (depth == 0) { error = "Unexpected ')'."; return false; }
                pos++;
                return true;
            }
            if (c == (byte)' ')
            {
                pos++;
                continue;
            }
            if (c == (byte)'(')
            {
                if (depth + 1 > MaxDepth) { error = "Too deep nesting."; return false; }
                pos++;
                var items = new List<ImapToken>();
                if (!TryParseTokens(s, ref pos, items, depth + 1, out error)) return false;
                into.Add(new ImapToken { Kind = ImapTokenKind.List, Items = items });
                continue;
            }
            if (c == (byte)'"')
            {
                if (!TryParseQuoted(s, ref pos, out var bytes)) { error = "Invalid quoted string."; return false; }
                into.Add(new ImapToken { Kind = ImapTokenKind.String, Bytes = bytes });
                continue;
            }
            if (c == (byte)'{' || c == (byte)'~' && pos + 1 < s.Length && s[pos + 1] == (byte)'{')
            {
                if (c == (byte)'~') pos++;
                if (!TryParseLiteral(s, ref pos, out var bytes)) { error = "Invalid literal."; return false; }
                into.Add(new ImapToken { Kind = ImapTokenKind.String, Bytes = bytes, IsLiteral = true });
                continue;
            }
            int start = pos;
            while (pos < s.Length && IsAtomChar(s[pos]))
            {
                if (s[pos] == (byte)'[')
                {
                    // A fetch-att or search key with a section: "BODY[HEADER.FIELDS (A B)]" holds spaces and parens.
                    int close = s[pos..].IndexOf((byte)']');
                    int line = s[pos..].IndexOfAny((byte)'\r', (byte)'\n');
                    if (close < 0 || line >= 0 && line < close) { error = "Missing ']'."; return false; }
                    pos += close + 1;
                    continue;
                }
                pos++;
            }
            if (pos == start) { error = $"Invalid character '{(char)s[pos]}'."; return false; }
            into.Add(new ImapToken { Kind = ImapTokenKind.Atom, Bytes = s[start..pos].ToArray() });
        }
    }

    private static bool TryParseQuoted(ReadOnlySpan<byte> s, ref int pos, out byte[] value)
    {
        value = [];
        var buf = new List<byte>();
        int i = pos + 1;
        while (i < s.Length)
        {
            byte b = s[i];
            if (b == (byte)'"')
            {
                pos = i + 1;
                value = buf.ToArray();
                return true;
            }
            if (b == (byte)'\r' || b == (byte)'\n' || b == 0) return false;
            if (b == (byte)'\\')
            {
                // RFC 9051 §9: quoted-specials = DQUOTE / "\"; nothing else may be escaped.
                if (i + 1 >= s.Length || s[i + 1] != (byte)'"' && s[i + 1] != (byte)'\\') return false;
                i++;
                b = s[i];
            }
            buf.Add(b);
            i++;
        }
        return false;
    }

    private static bool TryParseLiteral(ReadOnlySpan<byte> s, ref int pos, out ReadOnlyMemory<byte> value)
    {
        value = default;
        int close = s[pos..].IndexOf((byte)'}');
        if (close < 0) return false;
        var inner = s[(pos + 1)..(pos + close)];
        if (inner.Length > 0 && (inner[^1] == (byte)'+' || inner[^1] == (byte)'-')) inner = inner[..^1];
        if (!TryParseNumber(inner, out long n)) return false;
        int data = pos + close + 1;
        if (data + 2 > s.Length || s[data] != (byte)'\r' || s[data + 1] != (byte)'\n') return false;
        data += 2;
        if (n > s.Length - data) return false;
        value = s.Slice(data, (int)n).ToArray();
        pos = data + (int)n;
        return true;
    }

    /// <summary>If a line (without its CRLF) ends in a literal announcement, its size and whether it is
    /// non-synchronizing (<c>{n+}</c>, RFC 7888 §4).</summary>
    public static bool TryGetLiteralAtEnd(ReadOnlySpan<byte> line, out long size, out bool nonSync)
    {
        size = 0;
        nonSync = false;
        if (line.Length < 3 || line[^1] != (byte)'}') return false;
        int open = line.LastIndexOf((byte)'{');
        if (open < 0) return false;
        var inner = line[(open + 1)..^1];
        if (inner.Length > 0 && (inner[^1] == (byte)'+' || inner[^1] == (byte)'-'))
        {
            nonSync = true;
            inner = inner[..^1];
        }
        return TryParseNumber(inner, out size);
    }

    /// <summary>RFC 9051 §9: number64 = 1*DIGIT (at most 63 bits).</summary>
    public static bool TryParseNumber(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        if (digits.IsEmpty || digits.Length > 18) return false;
        foreach (byte b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9') return false;
            value = value * 10 + (b - '0');
        }
        return true;
    }

    /// <summary>RFC 9051 §9: ATOM-CHAR is any CHAR except atom-specials ("(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]");
    /// list-wildcards, "\" (flags) and "]" (resp-specials in sections) are accepted here and judged by the command.</summary>
    private static bool IsAtomChar(byte b) => b > 0x20 && b < 0x7f && b != (byte)'(' && b != (byte)')' && b != (byte)'{'
        && b != (byte)'"' || b >= 0x80;
}
