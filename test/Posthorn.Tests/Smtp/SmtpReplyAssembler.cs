using Xunit;

namespace Posthorn.Tests.Smtp;

/// <summary>Joins the lines of one SMTP reply (RFC 5321 §4.2.1: "250-" continues, "250 " ends),
/// whatever transport the test kit reads them from.</summary>
internal static class SmtpReplyAssembler
{
    /// <summary>Reads lines until the last line of a reply; lines are joined with LF, CRLF removed.</summary>
    public static async Task<string> ReadAsync(Func<Task<string?>> readLine)
    {
        var lines = new List<string>();
        while (true)
        {
            string? line = await readLine();
            Assert.True(line is not null, $"connection closed; reply so far: {string.Join("|", lines)}");
            lines.Add(line);
            if (line.Length < 4 || line[3] == ' ') return string.Join("\n", lines);
        }
    }
}
