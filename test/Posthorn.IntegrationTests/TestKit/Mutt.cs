using System.Text;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>What mutt showed: its index line and status line (from the screen) and the first message
/// as mutt decodes it (<c>pipe-message</c> with <c>pipe_decode</c>).</summary>
public sealed record MuttView(string Screen, string Decoded)
{
    /// <summary>The line our index_format draws for a message: <c>MUTTIDX &lt;from&gt; [subject] END</c>.</summary>
    public static string IndexLine(string from, string subject) => $"MUTTIDX <{from}> [{subject}] END";

    public static string StatusLine(int messages) => $"MUTTSTATUS msgs={messages}";
}

/// <summary>Drives the real mutt non-interactively.</summary>
/// <remarks>
/// mutt needs a terminal (with a pipe on stdin it switches to batch-send mode and complains
/// "No recipients specified"), so it runs under <c>script</c>, which gives it a pseudo-terminal.
/// A muttrc pushes keystrokes: pipe the current (first) message to a file, then quit. The index and
/// status formats are set to marker strings so the screen shows what mutt parsed from the mbox.
/// Its stdin stays open and silent: at EOF script(1) would pass an end-of-file to mutt, which then
/// races with the pushed keys. HOME points into the test directory so mutt touches nothing of the real user.
/// </remarks>
public static class Mutt
{
    /// <param name="settings">More muttrc lines, before the pushed keys (an IMAP server's TLS settings).</param>
    public static async Task<MuttView> ReadFirstMessageAsync(string mailbox, string workDir, params string[] settings)
    {
        ExternalTool.Require("mutt", "mutt");
        string script = ExternalTool.Require("script", "bsdutils");
        string outFile = Path.Combine(workDir, "mutt-pipe.out");
        string rcFile = Path.Combine(workDir, "muttrc");
        File.WriteAllText(rcFile, string.Join('\n', (string[])[
            "set pipe_decode=yes",
            "set wait_key=no",
            "set quit=yes",
            "set charset=utf-8",
            // Without an existing $folder (~/Mail) mutt first asks whether to create it, and that
            // prompt would eat the pushed keys.
            $"set folder=\"{workDir}\"",
            $"set spoolfile=\"{mailbox}\"",
            "set index_format=\"MUTTIDX <%a> [%s] END\"",
            "set status_format=\"MUTTSTATUS msgs=%m\"",
            .. settings,
            $"push \"<pipe-message>cat > {outFile}<enter><quit>\""]) + "\n");

        var env = new Dictionary<string, string?> { ["TERM"] = "xterm", ["HOME"] = workDir, ["MAIL"] = mailbox, ["LANG"] = "C.UTF-8" };
        var result = await ProcessRunner.RunAsync(
            script, ["-qec", $"mutt -n -F '{rcFile}' -R -f '{mailbox}'", "/dev/null"], TimeSpan.FromSeconds(60), env,
            workingDirectory: workDir, keepStdinOpen: true);
        string screen = StripTerminalControls(result.Stdout + result.Stderr);
        if (result.ExitCode != 0 || !File.Exists(outFile))
            throw new Xunit.Sdk.XunitException($"mutt did not pipe the message (exit {result.ExitCode}); screen:{Environment.NewLine}{screen}");
        return new MuttView(screen, File.ReadAllText(outFile));
    }

    /// <summary>Removes ANSI/VT100 control sequences so the screen reads as text.</summary>
    public static string StripTerminalControls(string raw)
    {
        var sb = new StringBuilder(raw.Length);
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (c == '\x1B' && i + 1 < raw.Length)
            {
                char next = raw[i + 1];
                if (next == '[')
                {
                    // CSI: parameters and intermediates, then one final byte in @..~
                    i += 2;
                    while (i < raw.Length && raw[i] is < '@' or > '~') i++;
                }
                else if (next is '(' or ')') i += 2;
                else i += 1;
                continue;
            }
            if (c == '\a' || c == '\r') { sb.Append('\n'); continue; }
            sb.Append(c);
        }
        return sb.ToString();
    }
}
