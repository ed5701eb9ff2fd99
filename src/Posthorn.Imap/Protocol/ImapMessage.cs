using MimeKit;

namespace Posthorn.Imap;

/// <summary>A message prepared for FETCH and SEARCH: its octets with CRLF line ends (as IMAP counts
/// and sends them), parsed once by MimeKit with the byte offsets of every entity.</summary>
/// <remarks>RFC 9051 §6.4.5: section numbers address the parts of the message or of an embedded
/// message/rfc822; HEADER, TEXT, HEADER.FIELDS apply to a message, MIME to a part.
/// Dispose it when done: MimeKit's messages, entities and contents have finalizers, and an undisposed parse waits
/// for the finalizer thread with everything it references. A first FETCH ENVELOPE of 100,000 messages made every
/// collection keep the parses since the one before (about 12 KB a message, 25 MB a collection) and spent a third of
/// its processor time copying them.</remarks>
public sealed partial class ImapMessage : IDisposable
{
    private readonly Dictionary<MimeEntity, (long Begin, long HeadersEnd, long End)> _entities = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<MimeMessage, (long Begin, long HeadersEnd, long End)> _messages = new(ReferenceEqualityComparer.Instance);

    private MimeMessage? _message;

    public ImapMessage(byte[] stored) => Data = ToCrlf(stored);

    /// <summary>The message with CRLF line ends; RFC822.SIZE is its length.</summary>
    public byte[] Data { get; }

    /// <summary>The parsed message, parsed on first use (BODY[] and RFC822 need only <see cref="Data"/>).</summary>
    public MimeMessage Message => _message ??= Parse();

    private MimeMessage Parse()
    {
        var parser = new MimeParser(new MemoryStream(Data, writable: false), MimeFormat.Default, persistent: true);
        parser.MimeEntityEnd += (_, e) => _entities[e.Entity] = (e.BeginOffset, e.HeadersEndOffset, e.EndOffset);
        parser.MimeMessageEnd += (_, e) => _messages[e.Message] = (e.BeginOffset, e.HeadersEndOffset, e.EndOffset);
        var message = parser.ParseMessage();
        if (!_messages.ContainsKey(message)) _messages[message] = (0, HeaderEnd(0), Data.Length);
        return message;
    }

    /// <summary>Disposes the parsed message (its entities and contents), which also takes them off the finalizer's list.</summary>
    public void Dispose() => _message?.Dispose();

    /// <summary>RFC 9051 §2.1: lines end in CRLF on the wire; stored Maildir files use LF.</summary>
    /// <remarks>Jumps from LF to LF with a vectorised search and copies the runs between them whole.</remarks>
    public static byte[] ToCrlf(byte[] raw)
    {
        ReadOnlySpan<byte> span = raw;
        int bare = 0;
        for (int i = span.IndexOf((byte)'\n'); i >= 0;)
        {
            if (i == 0 || span[i - 1] != (byte)'\r') bare++;
            int next = span[(i + 1)..].IndexOf((byte)'\n');
            i = next < 0 ? -1 : i + 1 + next;
        }
        if (bare == 0) return raw;
        var result = new byte[raw.Length + bare];
        int from = 0, o = 0;
        while (from < span.Length)
        {
            int lf = span[from..].IndexOf((byte)'\n');
            int end = lf < 0 ? span.Length : from + lf;   // the LF itself, or the end
            span[from..end].CopyTo(result.AsSpan(o));
            o += end - from;
            if (lf < 0) break;
            if (end == 0 || span[end - 1] != (byte)'\r') result[o++] = (byte)'\r';
            result[o++] = (byte)'\n';
            from = end + 1;
        }
        return result;
    }

    /// <summary>The offset just past the blank line that ends the header starting at <paramref name="from"/>.</summary>
    private long HeaderEnd(long from)
    {
        var span = Data.AsSpan((int)from);
        if (span.StartsWith("\r\n"u8)) return from + 2;
        int i = span.IndexOf("\r\n\r\n"u8);
        return i < 0 ? Data.Length : from + i + 4;
    }

    public (long Begin, long HeadersEnd, long End) OffsetsOf(MimeMessage m) => _messages.TryGetValue(m, out var o) ? o : (0, 0, 0);

    public (long Begin, long HeadersEnd, long End) OffsetsOf(MimeEntity e) => _entities.TryGetValue(e, out var o) ? o : (0, 0, 0);

    /// <summary>Returns the octets of a body section (RFC 9051 §6.4.5 section-spec) or false if it does
    /// not parse. A part that does not exist is an empty section, as Dovecot answers.</summary>
    public bool TryGetSection(string section, out byte[] bytes)
    {
        bytes = [];
        // BODY[]: the whole message, no parse needed.
        if (section.Length == 0)
        {
            bytes = Data;
            return true;
        }
        string rest = section;
        var numbers = new List<int>();
        while (rest.Length > 0 && char.IsAsciiDigit(rest[0]))
        {
            int dot = rest.IndexOf('.');
            string num = dot < 0 ? rest : rest[..dot];
            if (!int.TryParse(num, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < 1) return false;
            numbers.Add(n);
            rest = dot < 0 ? "" : rest[(dot + 1)..];
        }
        string upper = rest.ToUpperInvariant();
        MimeEntity? entity = Message.Body;
        MimeMessage? message = numbers.Count == 0 ? Message : null;
        for (int i = 0; i < numbers.Count && entity is not null; i++)
        {
            if (i > 0 && entity is MessagePart embedded) entity = embedded.Message?.Body;
            if (entity is Multipart mp) entity = numbers[i] <= mp.Count ? mp[numbers[i] - 1] : null;
            else if (numbers[i] != 1) entity = null;
        }
        if (entity is null) return true;
        if (numbers.Count > 0 && entity is MessagePart mpart) message = mpart.Message;
        if (upper.Length == 0)
        {
            if (numbers.Count == 0) { bytes = Data; return true; }
            var (_, he, end) = OffsetsOf(entity);
            bytes = Slice(he, end);
            return true;
        }
        if (upper == "MIME")
        {
            if (numbers.Count == 0) return false;
            var (b, he, _) = OffsetsOf(entity);
            bytes = Slice(b, he);
            return true;
        }
        if (message is null) return true;
        var (mb, mhe, mend) = OffsetsOf(message);
        if (upper == "HEADER") { bytes = Slice(mb, mhe); return true; }
        if (upper == "TEXT") { bytes = Slice(mhe, mend); return true; }
        bool not = upper.StartsWith("HEADER.FIELDS.NOT", StringComparison.Ordinal);
        if (!not && !upper.StartsWith("HEADER.FIELDS", StringComparison.Ordinal)) return false;
        int open = rest.IndexOf('('), close = rest.LastIndexOf(')');
        if (open < 0 || close < open) return false;
        var names = rest[(open + 1)..close].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(n => n.Trim('"')).ToHashSet(StringComparer.OrdinalIgnoreCase);
        bytes = FilterHeader(Slice(mb, mhe), names, not);
        return true;
    }

    private byte[] Slice(long from, long to) => from >= to ? [] : Data.AsSpan((int)from, (int)(to - from)).ToArray();

    /// <summary>RFC 9051 §6.4.5: HEADER.FIELDS keeps the named fields (with their continuation lines)
    /// and the blank line that ends the header.</summary>
    private static byte[] FilterHeader(byte[] header, HashSet<string> names, bool not)
    {
        var output = new MemoryStream();
        bool keep = false;
        int pos = 0;
        while (pos < header.Length)
        {
            int nl = Array.IndexOf(header, (byte)'\n', pos);
            int end = nl < 0 ? header.Length : nl + 1;
            var line = header.AsSpan(pos, end - pos);
            if (line.SequenceEqual("\r\n"u8)) break;
            if (line[0] != (byte)' ' && line[0] != (byte)'\t')
            {
                int colon = line.IndexOf((byte)':');
                string name = colon < 0 ? "" : System.Text.Encoding.ASCII.GetString(line[..colon]).Trim();
                keep = names.Contains(name) != not;
            }
            if (keep) output.Write(line);
            pos = end;
        }
        output.Write("\r\n"u8);
        return output.ToArray();
    }
}
