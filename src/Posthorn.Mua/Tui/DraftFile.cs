using System.Text;

namespace Posthorn.Mua.Tui;

/// <summary>The file the user edits with $EDITOR when composing (mutt with edit_headers): a To:,
/// Cc:, Bcc: and Subject: header block, an empty line, the body.</summary>
public static class DraftFile
{
    /// <summary>The file text of <paramref name="d"/>.</summary>
    public static string Format(Draft d)
    {
        var sb = new StringBuilder();
        sb.Append("To: ").Append(string.Join(", ", d.To)).Append('\n');
        sb.Append("Cc: ").Append(string.Join(", ", d.Cc)).Append('\n');
        sb.Append("Bcc: ").Append(string.Join(", ", d.Bcc)).Append('\n');
        sb.Append("Subject: ").Append(d.Subject ?? "").Append('\n');
        sb.Append('\n').Append(d.Body);
        return sb.ToString();
    }

    /// <summary>Reads the edited text back into <paramref name="template"/> (which keeps In-Reply-To and
    /// References). Header lines may continue on lines that start with white space (RFC 5322 §2.2.3);
    /// unknown headers are ignored. Returns false with a reason when there is no recipient.</summary>
    public static bool TryParse(string text, Draft template, out Draft draft, out string problem)
    {
        text = text.Replace("\r\n", "\n");
        int end = text.StartsWith('\n') ? 0 : text.IndexOf("\n\n", StringComparison.Ordinal);
        string head = end < 0 ? text : text[..end];
        string body = end < 0 ? "" : text[(end + (end == 0 ? 1 : 2))..];
        var fields = new List<(string Name, StringBuilder Value)>();
        foreach (string line in head.Split('\n'))
        {
            if (line.Length == 0) continue;
            if (line[0] is ' ' or '\t' && fields.Count > 0) { fields[^1].Value.Append(' ').Append(line.Trim()); continue; }
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            fields.Add((line[..colon].Trim(), new StringBuilder(line[(colon + 1)..].Trim())));
        }
        List<string> List(string name) => fields.Where(f => f.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            .SelectMany(f => f.Value.ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        string? subject = fields.LastOrDefault(f => f.Name.Equals("Subject", StringComparison.OrdinalIgnoreCase)).Value?.ToString();
        draft = template with { To = List("To"), Cc = List("Cc"), Bcc = List("Bcc"), Subject = subject, Body = body };
        problem = draft.To.Count + draft.Cc.Count + draft.Bcc.Count == 0 ? "No recipients specified." : "";
        return problem.Length == 0;
    }
}
