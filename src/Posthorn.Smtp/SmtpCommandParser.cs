using System.Buffers;
using System.Text;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>The SMTP commands smtpd(8) knows. The order is Postfix's command table order, which is
/// also the order of the counters in the <c>disconnect from …</c> log line.</summary>
public enum SmtpVerb : byte { Helo, Ehlo, StartTls, Auth, Mail, Rcpt, Data, Bdat, Rset, Noop, Vrfy, Etrn, Quit, Unknown }

/// <summary>Outcome of parsing MAIL/RCPT arguments; the session maps it to Postfix's reply.</summary>
public enum SmtpArgumentStatus : byte
{
    Ok,
    /// <summary>No <c>FROM:</c>/<c>TO:</c>, or nothing after it: <c>501 5.5.4 Syntax: …</c>.</summary>
    Syntax,
    /// <summary>The path does not parse: <c>501 5.1.7</c> (sender) or <c>501 5.1.3</c> (recipient).</summary>
    BadAddress,
}

/// <summary>One ESMTP parameter as given (RFC 5321 §4.1.2 esmtp-param = esmtp-keyword ["=" esmtp-value]).</summary>
/// <param name="Keyword">The keyword, upper-cased.</param>
/// <param name="Value">The value, or null when there was no "=".</param>
/// <param name="Text">The parameter exactly as the client wrote it, for "Unsupported option: …".</param>
public readonly record struct SmtpParameter(string Keyword, string? Value, string Text);

/// <summary>Pure, byte-based parser for SMTP command lines and RFC 5321 paths (STYLE.md C6). No I/O, no Regex.</summary>
/// <remarks>
/// <code>
/// RFC 5321 §4.1.1.2 mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
/// RFC 5321 §4.1.1.3 rcpt = "RCPT TO:" ( "&lt;Postmaster@" Domain "&gt;" / "&lt;Postmaster&gt;" / Forward-path ) [SP Rcpt-parameters] CRLF
/// RFC 5321 §4.1.2   Reverse-path = Path / "&lt;&gt;";  Path = "&lt;" [ A-d-l ":" ] Mailbox "&gt;"
///                   Mailbox = Local-part "@" ( Domain / address-literal );  Local-part = Dot-string / Quoted-string
/// </code>
/// Like Postfix: a space after the colon is allowed (<c>MAIL FROM: &lt;a@b&gt;</c>); unless
/// strict_rfc821_envelopes is set an address without angle brackets is accepted; a source route
/// (<c>&lt;@a,@b:u@d&gt;</c>) is dropped (RFC 5321 §4.1.2 says to ignore it); an address without
/// a domain is accepted and left unqualified (Postfix appends $myorigin later).
/// </remarks>
public static class SmtpCommandParser
{
    // RFC 5322 §3.2.3 atext, the Dot-string alphabet of RFC 5321 §4.1.2.
    private static readonly SearchValues<byte> Atext =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~"u8);
    private static readonly SearchValues<byte> DomainChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"u8);
    private static readonly SearchValues<byte> KeywordChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"u8);

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t';

    /// <summary>Splits a command line (CRLF removed) into its verb and the rest, both trimmed.</summary>
    /// <returns>The verb, <see cref="SmtpVerb.Unknown"/> when not one of ours (and when the line is empty:
    /// then <paramref name="verb"/> is empty too).</returns>
    public static SmtpVerb ParseVerb(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> verb, out ReadOnlySpan<byte> arguments)
    {
        var result = ParseVerb(line, out Range verbRange, out Range argRange);
        verb = line[verbRange];
        arguments = line[argRange];
        return result;
    }

    /// <summary>As above, giving where the verb and the arguments are in <paramref name="line"/>.</summary>
    public static SmtpVerb ParseVerb(ReadOnlySpan<byte> line, out Range verbRange, out Range argumentRange)
    {
        int start = 0;
        while (start < line.Length && IsSpace(line[start])) start++;
        int end = start;
        while (end < line.Length && !IsSpace(line[end])) end++;
        int argStart = end, argEnd = line.Length;
        while (argStart < argEnd && IsSpace(line[argStart])) argStart++;
        while (argEnd > argStart && IsSpace(line[argEnd - 1])) argEnd--;
        verbRange = start..end;
        argumentRange = argStart..argEnd;
        var verb = line[verbRange];
        return verb.Length switch
        {
            4 when Ascii.EqualsIgnoreCase(verb, "HELO"u8) => SmtpVerb.Helo,
            4 when Ascii.EqualsIgnoreCase(verb, "EHLO"u8) => SmtpVerb.Ehlo,
            4 when Ascii.EqualsIgnoreCase(verb, "MAIL"u8) => SmtpVerb.Mail,
            4 when Ascii.EqualsIgnoreCase(verb, "RCPT"u8) => SmtpVerb.Rcpt,
            4 when Ascii.EqualsIgnoreCase(verb, "DATA"u8) => SmtpVerb.Data,
            4 when Ascii.EqualsIgnoreCase(verb, "RSET"u8) => SmtpVerb.Rset,
            4 when Ascii.EqualsIgnoreCase(verb, "NOOP"u8) => SmtpVerb.Noop,
            4 when Ascii.EqualsIgnoreCase(verb, "VRFY"u8) => SmtpVerb.Vrfy,
            4 when Ascii.EqualsIgnoreCase(verb, "ETRN"u8) => SmtpVerb.Etrn,
            4 when Ascii.EqualsIgnoreCase(verb, "QUIT"u8) => SmtpVerb.Quit,
            4 when Ascii.EqualsIgnoreCase(verb, "AUTH"u8) => SmtpVerb.Auth,
            4 when Ascii.EqualsIgnoreCase(verb, "BDAT"u8) => SmtpVerb.Bdat,
            8 when Ascii.EqualsIgnoreCase(verb, "STARTTLS"u8) => SmtpVerb.StartTls,
            _ => SmtpVerb.Unknown,
        };
    }

    /// <summary>Postfix smtpd(8) is_header() and smtpd_forbidden_commands (default CONNECT GET POST):
    /// a client that sends message headers or HTTP instead of SMTP is disconnected.</summary>
    public static bool IsNonSmtpCommand(ReadOnlySpan<byte> verb)
    {
        if (Ascii.EqualsIgnoreCase(verb, "CONNECT"u8) || Ascii.EqualsIgnoreCase(verb, "GET"u8) || Ascii.EqualsIgnoreCase(verb, "POST"u8))
            return true;
        // RFC 5322 §3.6.8 field-name = 1*ftext (printable US-ASCII except ":"), followed by ":".
        if (verb.Length < 2 || verb[^1] != (byte)':') return false;
        foreach (byte b in verb[..^1])
            if (b is < 33 or > 126 or (byte)':') return false;
        return true;
    }

    /// <summary>MAIL arguments: <c>FROM:</c> [SP] Reverse-path *(SP Mail-parameter).</summary>
    public static SmtpArgumentStatus ParseMailFrom(ReadOnlySpan<byte> arguments, bool strictRfc821,
        out SmtpPath sender, out List<SmtpParameter> parameters) =>
        ParsePathCommand(arguments, "FROM:"u8, allowNullPath: true, strictRfc821, out sender, out parameters);

    /// <summary>RCPT arguments: <c>TO:</c> [SP] Forward-path *(SP Rcpt-parameter).</summary>
    public static SmtpArgumentStatus ParseRcptTo(ReadOnlySpan<byte> arguments, bool strictRfc821,
        out SmtpPath recipient, out List<SmtpParameter> parameters) =>
        ParsePathCommand(arguments, "TO:"u8, allowNullPath: false, strictRfc821, out recipient, out parameters);

    private static SmtpArgumentStatus ParsePathCommand(ReadOnlySpan<byte> args, ReadOnlySpan<byte> keyword, bool allowNullPath,
        bool strict, out SmtpPath path, out List<SmtpParameter> parameters)
    {
        path = SmtpPath.Null;
        parameters = [];
        // Postfix smtpd.c: argc < 3 || argv[1] != "from:" gives the "Syntax:" reply.
        if (args.Length < keyword.Length || !Ascii.EqualsIgnoreCase(args[..keyword.Length], keyword))
            return SmtpArgumentStatus.Syntax;
        var rest = Trim(args[keyword.Length..]);
        if (rest.IsEmpty) return SmtpArgumentStatus.Syntax;

        int end = AddressTokenLength(rest);
        if (end < 0) return SmtpArgumentStatus.BadAddress;
        if (!TryParsePath(rest[..end], allowNullPath, strict, out path)) return SmtpArgumentStatus.BadAddress;

        var tail = rest[end..];
        if (!tail.IsEmpty && !IsSpace(tail[0])) return SmtpArgumentStatus.BadAddress;
        tail = Trim(tail);
        while (!tail.IsEmpty)
        {
            int n = 0;
            while (n < tail.Length && !IsSpace(tail[n])) n++;
            parameters.Add(ParseParameter(tail[..n]));
            tail = Trim(tail[n..]);
        }
        return SmtpArgumentStatus.Ok;
    }

    /// <summary>Length of the address token at the start of <paramref name="text"/>: up to the matching
    /// "&gt;" (quotes and quoted pairs skipped) or, without brackets, up to white space. -1 when unterminated.</summary>
    private static int AddressTokenLength(ReadOnlySpan<byte> text)
    {
        bool bracket = text[0] == (byte)'<';
        bool quoted = false;
        for (int i = bracket ? 1 : 0; i < text.Length; i++)
        {
            byte b = text[i];
            if (quoted)
            {
                if (b == (byte)'\\') i++;
                else if (b == (byte)'"') quoted = false;
            }
            else if (b == (byte)'"') quoted = true;
            else if (bracket && b == (byte)'>') return i + 1;
            else if (!bracket && IsSpace(b)) return i;
        }
        return bracket || quoted ? -1 : text.Length;
    }

    /// <summary>Parses one path: <c>&lt;&gt;</c>, <c>&lt;[route:]mailbox&gt;</c>, or (unless strict) a bare mailbox.</summary>
    public static bool TryParsePath(ReadOnlySpan<byte> text, bool allowNullPath, bool strictRfc821, out SmtpPath path)
    {
        path = SmtpPath.Null;
        if (text.Length >= 2 && text[0] == (byte)'<' && text[^1] == (byte)'>') text = text[1..^1];
        else if (strictRfc821) return false;   // Postfix strict_rfc821_envelopes: brackets required.
        if (text.IsEmpty) return allowNullPath;   // RFC 5321 §4.1.2 Reverse-path = Path / "<>"

        // RFC 5321 §4.1.2: A-d-l ":" — the source route is accepted and ignored (Appendix C).
        if (text[0] == (byte)'@')
        {
            int colon = text.IndexOf((byte)':');
            if (colon < 0 || !IsSourceRoute(text[..colon])) return false;
            text = text[(colon + 1)..];
        }
        return TryParseMailbox(text, out path);
    }

    private static bool IsSourceRoute(ReadOnlySpan<byte> route)
    {
        // A-d-l = At-domain *( "," At-domain );  At-domain = "@" Domain
        foreach (var range in route.Split((byte)','))
        {
            var atDomain = route[range];
            if (atDomain.Length < 2 || atDomain[0] != (byte)'@' || !IsDomain(atDomain[1..])) return false;
        }
        return true;
    }

    private static bool TryParseMailbox(ReadOnlySpan<byte> text, out SmtpPath path)
    {
        path = SmtpPath.Null;
        int localEnd;
        if (text.IsEmpty) return false;
        if (text[0] == (byte)'"')
        {
            // RFC 5321 §4.1.2 Quoted-string = DQUOTE *QcontentSMTP DQUOTE; quoted-pairSMTP = "\" %d32-126
            int i = 1;
            for (; i < text.Length && text[i] != (byte)'"'; i++)
            {
                if (text[i] == (byte)'\\')
                {
                    if (++i >= text.Length || text[i] is < 32 or > 126) return false;
                }
                else if (text[i] < 32 || text[i] == 127) return false;
            }
            if (i >= text.Length) return false;
            localEnd = i + 1;
        }
        else
        {
            // Dot-string = Atom *("." Atom). Like Postfix we also take leading, trailing and doubled
            // dots, and 8-bit bytes (Postfix is 8-bit clean even without SMTPUTF8).
            localEnd = 0;
            while (localEnd < text.Length && (Atext.Contains(text[localEnd]) || text[localEnd] == (byte)'.' || text[localEnd] >= 0x80))
                localEnd++;
            if (localEnd == 0) return false;
        }
        string local = Encoding.UTF8.GetString(text[..localEnd]);
        var rest = text[localEnd..];
        if (rest.IsEmpty)
        {
            path = new SmtpPath(local, "");   // unqualified, e.g. RCPT TO:<postmaster>
            return true;
        }
        if (rest[0] != (byte)'@') return false;
        var domain = rest[1..];
        // Postfix accepts <user@domain.>: trivial-rewrite "strip[s] trailing dot at end of domain, but not dot-dot or
        // at-dot" (rewrite.c, resolve.c), so the address is routed and queued as user@domain.
        if (domain.Length > 1 && domain[^1] == (byte)'.' && domain[^2] != (byte)'.') domain = domain[..^1];
        if (!IsDomain(domain) && !IsAddressLiteral(domain)) return false;
        path = new SmtpPath(local, Encoding.UTF8.GetString(domain));
        return true;
    }

    /// <summary>True for a domain name as RFC 5321 §4.1.2 writes it (no address literal).</summary>
    public static bool IsValidDomain(ReadOnlySpan<byte> domain) => IsDomain(domain);

    /// <summary>RFC 5321 §4.1.2 Domain = sub-domain *("." sub-domain); letters, digits, "-" (and "_" and
    /// 8-bit bytes, which Postfix lets through to its own checks).</summary>
    private static bool IsDomain(ReadOnlySpan<byte> domain)
    {
        if (domain.IsEmpty) return false;
        foreach (var range in domain.Split((byte)'.'))
        {
            var label = domain[range];
            if (label.IsEmpty) return false;
            foreach (byte b in label)
                if (!DomainChars.Contains(b) && b < 0x80) return false;
        }
        return true;
    }

    /// <summary>RFC 5321 §4.1.3 address-literal = "[" ( IPv4 / IPv6 / General ) "]"; dcontent = %d33-90 / %d94-126.</summary>
    private static bool IsAddressLiteral(ReadOnlySpan<byte> domain)
    {
        if (domain.Length < 3 || domain[0] != (byte)'[' || domain[^1] != (byte)']') return false;
        foreach (byte b in domain[1..^1])
            if (b is < 33 or > 126 or (byte)'[' or (byte)']' or (byte)'\\') return false;
        return true;
    }

    private static SmtpParameter ParseParameter(ReadOnlySpan<byte> text)
    {
        string raw = Printable(text);
        int eq = text.IndexOf((byte)'=');
        var keyword = eq < 0 ? text : text[..eq];
        // RFC 5321 §4.1.2 esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"). A malformed keyword is kept
        // as written; no extension knows it, so the session answers "Unsupported option".
        string key = keyword.IndexOfAnyExcept(KeywordChars) < 0 ? Encoding.ASCII.GetString(keyword).ToUpperInvariant() : raw;
        // The value as UTF-8 (invalid bytes become U+FFFD, which no extension's value grammar allows).
        string? value = eq < 0 ? null : Encoding.UTF8.GetString(text[(eq + 1)..]);
        return new SmtpParameter(key, value, raw);
    }

    /// <summary>HELO/EHLO argument as Postfix stores it: arguments joined by one space, then every
    /// non-printable byte and every one of <c> &lt;&gt;()\";@</c> replaced by "?" (smtpd.c printable() and neuter()).</summary>
    public static string SanitizeHeloName(ReadOnlySpan<byte> arguments)
    {
        var sb = new StringBuilder(arguments.Length);
        bool space = false;
        foreach (byte b in Trim(arguments))
        {
            if (IsSpace(b)) { space = true; continue; }
            if (space) { sb.Append('?'); space = false; }
            sb.Append(b is < 33 or > 126 or (byte)'<' or (byte)'>' or (byte)'(' or (byte)')' or (byte)'\\' or (byte)'"' or (byte)';' or (byte)'@'
                ? '?' : (char)b);
        }
        return sb.ToString();
    }

    /// <summary>Text safe to put in a log line: non-printable and 8-bit bytes become "?" (Postfix printable()).</summary>
    public static string Printable(ReadOnlySpan<byte> text)
    {
        var chars = new char[text.Length];
        for (int i = 0; i < text.Length; i++) chars[i] = text[i] is >= 32 and < 127 ? (char)text[i] : '?';
        return new string(chars);
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        int start = 0, end = s.Length;
        while (start < end && IsSpace(s[start])) start++;
        while (end > start && IsSpace(s[end - 1])) end--;
        return s[start..end];
    }
}
