namespace Posthorn.Config;

/// <summary>One logical line of main.cf or master.cf: its text and the physical lines it spans.</summary>
/// <param name="Text">The joined text, newlines removed, trailing white space trimmed.</param>
/// <param name="Line">The 1-based number of its first physical line.</param>
/// <param name="First">The 0-based index of its first physical line.</param>
/// <param name="Last">The 0-based index of its last physical line (a continuation line).</param>
internal readonly record struct LogicalLine(string Text, int Line, int First, int Last);

/// <summary>Splits a Postfix configuration file into logical lines (Postfix readlline(3)).</summary>
internal static class LogicalLines
{
    /// <summary>Splits text into physical lines, accepting LF and CRLF.</summary>
    public static string[] Physical(string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        // A final newline does not start another line.
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }

    /// <summary>Groups physical lines into logical lines.</summary>
    /// <remarks>Postfix postconf(5) SYNTAX: empty lines, white-space-only lines and lines whose first
    /// non-white-space character is '#' are ignored; a line that starts with white space continues the
    /// logical line before it. A comment line between two parts of a logical line does not end it
    /// (readlline(3) skips it). A continuation with nothing to continue starts its own logical line,
    /// reported through <paramref name="warn"/>.</remarks>
    public static List<LogicalLine> Split(string[] lines, string fileName, Action<string>? warn = null)
    {
        var result = new List<LogicalLine>();
        System.Text.StringBuilder? current = null;
        int startIndex = 0, lastIndex = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            string trimmed = line.TrimStart(' ', '\t');
            if (trimmed.Length == 0 || trimmed[0] == '#' || trimmed.TrimEnd().Length == 0)
                continue;
            bool continuation = line[0] is ' ' or '\t';
            if (continuation && current is not null)
            {
                current.Append(line);
                lastIndex = i;
                continue;
            }
            if (continuation)
                warn?.Invoke($"{fileName}, line {i + 1}: logical line must not start with white space: \"{trimmed.TrimEnd()}\"");
            if (current is not null)
                result.Add(new LogicalLine(current.ToString().TrimEnd(), startIndex + 1, startIndex, lastIndex));
            current = new System.Text.StringBuilder(continuation ? trimmed : line);
            startIndex = lastIndex = i;
        }
        if (current is not null)
            result.Add(new LogicalLine(current.ToString().TrimEnd(), startIndex + 1, startIndex, lastIndex));
        return result;
    }
}
