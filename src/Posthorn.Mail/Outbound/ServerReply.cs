using System.Buffers;
using System.Text;
using Posthorn.Core;

namespace Posthorn.Mail.Outbound;

/// <summary>One (possibly multi-line) reply from an SMTP server.</summary>
/// <remarks>RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF.</remarks>
public sealed class ServerReply(int code, IReadOnlyList<string> lines)
{
    public int Code { get; } = code;

    /// <summary>The lines as received, without CRLF (for example <c>250-PIPELINING</c>).</summary>
    public IReadOnlyList<string> Lines { get; } = lines;

    public bool IsPositive => Code is >= 200 and < 400;
    public bool IsTransient => Code is >= 400 and < 500;
    public bool IsPermanent => Code >= 500;

    /// <summary>The reply as Postfix quotes it: the lines joined by a space.</summary>
    public string Text => string.Join(' ', Lines);

    /// <summary>The RFC 3463 code at the start of the text, else one derived from the reply code
    /// (Postfix smtp(8): 2.0.0, 4.0.0 or 5.0.0).</summary>
    public EnhancedStatus Status
    {
        get
        {
            var first = Lines[0];
            if (first.Length > 4)
            {
                var rest = first.AsSpan(4);
                int sp = rest.IndexOf(' ');
                if (EnhancedStatus.TryParse(sp < 0 ? rest : rest[..sp], out var s) && s.Class == Code / 100) return s;
            }
            return new EnhancedStatus((byte)(Code / 100), 0, 0);
        }
    }

    /// <summary>The EHLO keywords (upper case) with their parameters, from the lines after the first.</summary>
    public Dictionary<string, string> EhloKeywords()
    {
        var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 1; i < Lines.Count; i++)
        {
            var text = Lines[i].Length > 4 ? Lines[i][4..].Trim() : "";
            if (text.Length == 0) continue;
            int sp = text.IndexOf(' ');
            d[sp < 0 ? text : text[..sp]] = sp < 0 ? "" : text[(sp + 1)..].Trim();
        }
        return d;
    }

    /// <summary>Parses one reply line; false when it is not <c>ddd</c>, <c>ddd text</c> or <c>ddd-text</c>
    /// with a code from 200 to 599.</summary>
    internal static bool TryParseLine(ReadOnlySpan<byte> line, out int code, out bool last)
    {
        code = 0;
        last = true;
        if (line.Length < 3) return false;
        for (int i = 0; i < 3; i++)
        {
            if (line[i] is < (byte)'0' or > (byte)'9') return false;
            code = code * 10 + (line[i] - '0');
        }
        if (code is < 200 or > 599) return false;
        if (line.Length == 3) return true;
        if (line[3] == (byte)'-') { last = false; return true; }
        return line[3] == (byte)' ';
    }

    internal static string Decode(ReadOnlySequence<byte> line)
    {
        // Replies are ASCII by RFC 5321; anything else is kept as UTF-8 text, invalid bytes replaced.
        var s = Encoding.UTF8.GetString(line);
        return s.EndsWith('\r') ? s[..^1] : s;
    }
}
