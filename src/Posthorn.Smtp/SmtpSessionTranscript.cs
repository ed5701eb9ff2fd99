using System.Text;

namespace Posthorn.Smtp;

/// <summary>The notify_classes that an SMTP session can raise (Postfix mail_error(3) as smtpd uses it).</summary>
/// <remarks>postconf(5) notify_classes: "bounce" also sends "transcripts of SMTP sessions when Postfix rejects mail"
/// (an unknown user, a message over the size limit); "policy" a transcript "when a client request was rejected
/// because of (UCE) policy"; "protocol" one "in case of client or server protocol errors"; "resource" and "software"
/// one when mail was not accepted because of a local problem (a queue file that cannot be written, a failure of ours).</remarks>
[Flags]
public enum SmtpErrorClasses : byte
{
    None = 0,
    Bounce = 1,
    Policy = 2,
    Protocol = 4,
    Resource = 8,
    Software = 16,
}

/// <summary>Postfix smtpd_chat.c: the session history ("In:  …" and "Out: …" lines) and the error classes met since
/// it was last reset, for the postmaster notice that notify_classes asks for.</summary>
/// <remarks>
/// Postfix smtpd.c chat_reset: after HELO/EHLO, RSET and the end of DATA the history is sent (when an error of a class
/// in notify_classes happened) and cleared once it holds more than smtpd_history_flush_threshold lines; at the end of
/// the session it is sent and cleared whatever its length. The history is therefore bounded by the threshold plus one
/// transaction's commands, and a transaction's own commands are never lost to a flush.
/// DEVIATION: the SASL data after <c>AUTH mechanism</c> is recorded as <c>***</c>, so no password reaches a notice.
/// </remarks>
public sealed class SmtpSessionTranscript(SmtpErrorClasses notify, int flushThreshold)
{
    /// <summary>What was said, as it was said: a reply keeps its wire form (CR LF between its lines) until a notice
    /// needs the history, so that recording costs no formatting on the session's path.</summary>
    private readonly List<(bool Out, string Text)> _said = [];
    private int _lineCount;

    /// <summary>The classes met since the last reset.</summary>
    public SmtpErrorClasses Errors { get; private set; }

    /// <summary>The recorded lines, oldest first: <c>In:  command</c>, one <c>Out: reply line</c> per reply line.</summary>
    public IReadOnlyList<string> Lines =>
        [.. _said.SelectMany(e => e.Out
            ? e.Text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(l => "Out: " + l)
            : ["In:  " + e.Text])];

    /// <summary>Whether the postmaster gets this history: an error of a class in notify_classes happened.</summary>
    public bool ShouldNotify => (Errors & notify) != 0;

    /// <summary>Whether <see cref="Lines"/> grew past smtpd_history_flush_threshold (checked at HELO/EHLO, RSET and
    /// the end of DATA).</summary>
    public bool OverThreshold => _lineCount > flushThreshold;

    /// <summary>A command line as the client sent it, made printable.</summary>
    public void In(ReadOnlySpan<byte> line)
    {
        _said.Add((false, Redacted(SmtpCommandParser.Printable(line))));
        _lineCount++;
    }

    /// <summary>A reply as it went out; a multiline reply is one history line per text line, as on the wire.</summary>
    public void Out(string wire)
    {
        _said.Add((true, wire));
        _lineCount += wire.AsSpan().Count("\r\n");
    }

    public void Error(SmtpErrorClasses classes) => Errors |= classes;

    public void Reset()
    {
        _said.Clear();
        _lineCount = 0;
        Errors = SmtpErrorClasses.None;
    }

    /// <summary><c>AUTH PLAIN dXNlcgB1c2VyAHB3</c> becomes <c>AUTH PLAIN ***</c>.</summary>
    private static string Redacted(string line)
    {
        if (!line.StartsWith("AUTH ", StringComparison.OrdinalIgnoreCase)) return line;
        int second = line.IndexOf(' ', 5);
        return second < 0 ? line : line[..second] + " ***";
    }

    /// <summary>Postfix smtpd_chat_notify: the body of the postmaster notice, lines wrapped at 78 columns with a
    /// 4-column indent for the continuation, each behind one space ("Always prepend one space to message content
    /// that we generate from untrusted data"), LF line ends.</summary>
    public static string NoticeBody(IReadOnlyList<string> lines, string? reason)
    {
        var sb = new StringBuilder("Transcript of session follows.\n\n");
        foreach (var line in lines) Wrap(sb, line, 78, 4);
        sb.Append('\n');
        if (reason is not null) sb.Append("Session aborted, reason: ").Append(reason).Append('\n');
        sb.Append('\n').Append("For other details, see the local mail logfile\n");
        return sb.ToString();
    }

    /// <summary>Breaks <paramref name="line"/> at white space so that no piece is longer than <paramref name="width"/>
    /// (a word longer than that stays whole); pieces after the first are indented.</summary>
    internal static void Wrap(StringBuilder sb, string line, int width, int indent)
    {
        int start = 0;
        bool first = true;
        while (start < line.Length)
        {
            int room = first ? width : width - indent;
            int end = line.Length;
            if (end - start > room)
            {
                int cut = line.LastIndexOf(' ', start + room, room);
                end = cut > start ? cut : line.IndexOf(' ', start + room) is var next and >= 0 ? next : line.Length;
            }
            sb.Append(' ').Append(' ', first ? 0 : indent).Append(line, start, end - start).Append('\n');
            first = false;
            start = end;
            while (start < line.Length && line[start] == ' ') start++;
        }
        if (line.Length == 0) sb.Append(" \n");
    }
}
