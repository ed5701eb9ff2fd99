namespace Posthorn.IntegrationTests.TestKit;

/// <summary>One SMTP reply as read from the wire: every line, code included (RFC 5321 §4.2).</summary>
public sealed record SmtpResponse(int Code, IReadOnlyList<string> Lines)
{
    /// <summary>The last line, e.g. <c>250 2.0.0 Ok: queued as 3F1A2B0C4D</c>.</summary>
    public string Last => Lines[^1];

    /// <summary>The text after the code of each line ("PIPELINING", "SIZE 10240000", …).</summary>
    public IEnumerable<string> Texts => Lines.Select(l => l.Length > 4 ? l[4..] : "");

    public bool IsPositive => Code is >= 200 and < 400;
    public bool IsPermanentFailure => Code is >= 500 and < 600;

    /// <summary>The ID from <c>250 2.0.0 Ok: queued as ID</c>, or null.</summary>
    public string? QueueId
    {
        get
        {
            const string marker = "queued as ";
            int at = Last.IndexOf(marker, StringComparison.Ordinal);
            return Code == 250 && at >= 0 ? Last[(at + marker.Length)..].Trim() : null;
        }
    }

    public override string ToString() => string.Join("\n", Lines);

    /// <summary>Parses one reply line; false when it is not <c>ddd</c>, <c>ddd text</c> or <c>ddd-text</c>.</summary>
    public static bool TryParseLine(string line, out int code, out bool more)
    {
        code = 0;
        more = false;
        if (line.Length < 3 || !char.IsAsciiDigit(line[0]) || !char.IsAsciiDigit(line[1]) || !char.IsAsciiDigit(line[2]))
            return false;
        if (line.Length > 3 && line[3] is not (' ' or '-')) return false;
        code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        more = line.Length > 3 && line[3] == '-';
        return true;
    }
}
