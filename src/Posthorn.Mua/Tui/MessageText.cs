using System.Globalization;
using System.Text;
using MimeKit;

namespace Posthorn.Mua.Tui;

/// <summary>The pager's text of a message, as mutt shows it: the chosen headers, the decoded text
/// parts (text/plain preferred in multipart/alternative), then one line per attachment.</summary>
/// <remarks>
/// Standards: RFC 2045 §6 (quoted-printable and base64 are decoded by MimeKit), RFC 2046 §5.1.4
/// (multipart/alternative: the last part the reader can show is the richest; we prefer text/plain),
/// RFC 2047 (encoded words in headers), RFC 2183 (Content-Disposition: attachment, filename).
/// Security: message text is untrusted; control characters (ESC and the C1 set) never reach the
/// terminal, they are shown as "?".
/// </remarks>
public static class MessageText
{
    private static readonly string[] ShownHeaders = ["Date", "From", "To", "Cc", "Reply-To", "Subject"];

    /// <summary>The pager lines of <paramref name="msg"/>, without line wrapping.</summary>
    public static List<string> Lines(MimeMessage msg) => Lines(msg, []);

    /// <summary>The pager lines; <paramref name="attachments"/> gets the parts listed as
    /// "[-- Attachment #N" in that order (#1 is index 0), those of enclosed messages included.</summary>
    public static List<string> Lines(MimeMessage msg, List<MimeEntity> attachments)
    {
        var lines = new List<string>();
        foreach (string name in ShownHeaders)
            if (msg.Headers[name] is { } value)
                lines.Add(Clean($"{name}: {Unfold(value)}"));
        lines.Add("");
        if (msg.Body is null) lines.Add("[-- empty message --]");
        else Render(msg.Body, lines, attachments);
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    private static void Render(MimeEntity entity, List<string> lines, List<MimeEntity> attachments)
    {
        switch (entity)
        {
            case MultipartAlternative alt:
                // RFC 2046 §5.1.4: the parts are the same content; show one, text/plain when there is one.
                var choice = alt.LastOrDefault(p => p is TextPart t && t.IsPlain && !IsAttachment(p)) ?? alt.FirstOrDefault();
                if (choice is not null) Render(choice, lines, attachments);
                break;
            case Multipart multi:
                foreach (var part in multi) Render(part, lines, attachments);
                break;
            case MessagePart { Message: { } inner } enclosed:
                attachments.Add(enclosed);
                lines.Add($"[-- Attachment #{attachments.Count}: message/rfc822, {Clean(inner.Subject ?? "")} --]");
                lines.AddRange(Lines(inner, attachments));
                lines.Add("");
                break;
            case TextPart text when !IsAttachment(text) && (text.IsPlain || text.IsHtml):
                if (text.IsHtml) lines.Add("[-- text/html, shown without markup --]");
                string body = Decode(text, out string? note);
                if (note is not null) lines.Add(note);
                if (text.IsHtml) body = WithoutMarkup(body);
                foreach (string line in body.Replace("\r\n", "\n").Split('\n')) lines.Add(Clean(line));
                break;
            case MimePart part:
                string name = part.FileName ?? part.ContentType.Name ?? "(no name)";
                attachments.Add(part);
                lines.Add(Clean($"[-- Attachment #{attachments.Count}: {name} ({part.ContentType.MimeType}, {SizeText(DecodedSize(part))}) --]"));
                break;
        }
    }

    private static bool IsAttachment(MimeEntity e) => e.ContentDisposition?.IsAttachment == true;

    /// <summary>The text in its declared charset; an unknown charset is read as UTF-8, or Latin-1
    /// when it is not valid UTF-8, with a note saying so.</summary>
    internal static string Decode(TextPart text, out string? note)
    {
        note = null;
        if (text.ContentType.Charset is not { } charset) return text.Text;
        try
        {
            return text.GetText(charset);
        }
        catch (NotSupportedException)
        {
            // MimeKit's fallback: a BOM, else UTF-8, else ISO-8859-1.
            string decoded = text.GetText(out Encoding used);
            note = $"[-- unknown charset \"{Clean(charset)}\", shown as {used.WebName} --]";
            return decoded;
        }
    }

    /// <summary>The text of an HTML part without tags; entities decoded.</summary>
    private static string WithoutMarkup(string html)
    {
        var sb = new StringBuilder(html.Length);
        bool inTag = false;
        foreach (char c in html)
        {
            if (c == '<') inTag = true;
            else if (c == '>') inTag = false;
            else if (!inTag) sb.Append(c);
        }
        return System.Net.WebUtility.HtmlDecode(sb.ToString());
    }

    private static long DecodedSize(MimePart part)
    {
        if (part.Content is null) return 0;
        using var counter = new CountingStream();
        part.Content.DecodeTo(counter);
        return counter.Length;
    }

    /// <summary>mutt's size column: 512, 1.2K, 12K, 3.4M.</summary>
    public static string SizeText(long bytes) => bytes switch
    {
        < 1000 => bytes.ToString(CultureInfo.InvariantCulture),
        < 10 * 1024 => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + "K",
        < 1000 * 1024 => (bytes / 1024).ToString(CultureInfo.InvariantCulture) + "K",
        < 10 * 1024 * 1024 => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + "M",
        _ => (bytes / 1048576).ToString(CultureInfo.InvariantCulture) + "M",
    };

    private static string Unfold(string value) => value.Replace("\r", "").Replace("\n", "");

    /// <summary>Tabs expanded to 8 columns; control characters (C0, DEL, C1) replaced by "?".</summary>
    public static string Clean(string s)
    {
        if (!s.AsSpan().ContainsAnyInRange('\0', '\x1f') && !s.AsSpan().ContainsAnyInRange('\x7f', '\x9f')) return s;
        var sb = new StringBuilder(s.Length + 8);
        foreach (char c in s)
        {
            if (c == '\t') sb.Append(' ', 8 - sb.Length % 8);
            else if (c < ' ' || c is >= '\x7f' and <= '\x9f') sb.Append('?');
            else sb.Append(c);
        }
        return sb.ToString();
    }

    private sealed class CountingStream : Stream
    {
        private long _length;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => _length += count;
    }
}
