using System.Text.RegularExpressions;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>One maillog line split as syslog writes it:
/// <c>Nov 25 13:17:08 mail postfix/smtpd[123]: connect from localhost[127.0.0.1]</c>.</summary>
public sealed partial record LogLine(string Timestamp, string Host, string SyslogName, string Program, int Pid, string Text)
{
    public static LogLine? TryParse(string line)
    {
        var m = Shape().Match(line);
        if (!m.Success) return null;
        return new LogLine(m.Groups["ts"].Value, m.Groups["host"].Value, m.Groups["name"].Value,
            m.Groups["prog"].Value, int.Parse(m.Groups["pid"].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups["text"].Value);
    }

    /// <summary>Lines of <paramref name="program"/> (smtpd, cleanup, qmgr, local, pickup…) whose text satisfies <paramref name="match"/>.</summary>
    public static IEnumerable<LogLine> Find(IEnumerable<string> lines, string program, Func<string, bool> match) =>
        lines.Select(TryParse).OfType<LogLine>().Where(l => l.Program == program && match(l.Text));

    // syslog(3) timestamp "Mmm dd hh:mm:ss" (day space-padded), short host, "syslog_name/program[pid]: text".
    [GeneratedRegex(@"^(?<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (?<host>\S+) (?<name>[^\s/]+)/(?<prog>[a-z0-9_-]+)\[(?<pid>\d+)\]: (?<text>.*)$")]
    private static partial Regex Shape();
}
