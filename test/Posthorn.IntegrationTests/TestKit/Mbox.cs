namespace Posthorn.IntegrationTests.TestKit;

/// <summary>One delivered message: its mbox From_ line (if any), header fields in order (unfolded) and body.</summary>
public sealed record StoredMessage(string? FromLine, IReadOnlyList<KeyValuePair<string, string>> Headers, string Body)
{
    /// <summary>The first field named <paramref name="name"/> (case-insensitive), unfolded, or null.</summary>
    public string? Header(string name) => Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    public IEnumerable<string> HeaderValues(string name) =>
        Headers.Where(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value);

    public IReadOnlyList<string> BodyLines => Body.Length == 0 ? [] : Body.TrimEnd('\n').Split('\n');

    /// <summary>Parses a message without a From_ line (a Maildir file).</summary>
    public static StoredMessage Parse(string text) => Parse(null, RawSmtp.SplitLines(text).ToList());

    internal static StoredMessage Parse(string? fromLine, List<string> lines)
    {
        var headers = new List<KeyValuePair<string, string>>();
        int i = 0;
        for (; i < lines.Count && lines[i].Length > 0; i++)
        {
            string line = lines[i];
            if ((line[0] == ' ' || line[0] == '\t') && headers.Count > 0)
            {
                // RFC 5322 §2.2.3: unfolding removes the CRLF before the white space.
                var last = headers[^1];
                headers[^1] = new(last.Key, last.Value + line);
                continue;
            }
            int colon = line.IndexOf(':');
            if (colon <= 0) break;   // not a header: the body starts here (malformed, keep it visible)
            headers.Add(new(line[..colon], line[(colon + 1)..].Trim()));
        }
        if (i < lines.Count && lines[i].Length == 0) i++;
        string body = string.Join('\n', lines.Skip(i));
        return new StoredMessage(fromLine, headers, body.Length > 0 ? body + "\n" : "");
    }
}

/// <summary>Splits an mbox file as mutt and Postfix's local(8) see it.</summary>
/// <remarks>A message starts with a "From " line at the start of the file or after an empty line;
/// local(8) ends each message with an empty line, which is not part of the message.</remarks>
public static class Mbox
{
    public static IReadOnlyList<StoredMessage> Parse(string text)
    {
        var messages = new List<StoredMessage>();
        var lines = RawSmtp.SplitLines(text).ToList();
        if (text.Length == 0) return messages;
        string? fromLine = null;
        var current = new List<string>();
        for (int i = 0; i < lines.Count; i++)
        {
            string line = lines[i];
            bool separator = line.StartsWith("From ", StringComparison.Ordinal) && (i == 0 || lines[i - 1].Length == 0);
            if (separator)
            {
                if (fromLine is not null) messages.Add(Finish(fromLine, current));
                fromLine = line;
                current = [];
            }
            else if (fromLine is null)
            {
                throw new FormatException($"mbox does not start with a From_ line: \"{line}\"");
            }
            else
            {
                current.Add(line);
            }
        }
        if (fromLine is not null) messages.Add(Finish(fromLine, current));
        return messages;
    }

    private static StoredMessage Finish(string fromLine, List<string> lines)
    {
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return StoredMessage.Parse(fromLine, lines);
    }
}
