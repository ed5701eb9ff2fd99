using System.Diagnostics;
using System.Text.RegularExpressions;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 7, "Real readers"): mutt keeps the mbox open, and rewrites it, while mail
/// arrives, and afterwards every message is there exactly once; mutt reads a Maildir and sees every message once.</summary>
/// <remarks>Both sides lock: mutt takes the dotlock and an fcntl lock whenever it rewrites the mbox, local(8)
/// takes both for every append, so neither ever sees half of the other's work.</remarks>
public sealed class DeliveryMuttTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string Rcpt = $"{User}@{TestConfig.Myhostname}";

    /// <summary>asctime(3) as in a From_ line: <c>From sender  Wed Nov 25 13:17:08 2026</c>.</summary>
    private static readonly Regex FromLine = new(@"^From alice@sender\.example  [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$");

    private static async Task<string> SendAsync(DaemonProcess d, string token)
    {
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        return await smtp.SendMailAsync("alice@sender.example", Rcpt, Token.Message(token, "body " + token));
    }

    private static Task DeliveredAsync(DaemonProcess d, string id, string what) =>
        d.WaitForLogAsync(l => l.Contains($"{id}: to=<{Rcpt}>", StringComparison.Ordinal)
            && l.Contains($"status=sent (delivered to {what})", StringComparison.Ordinal), $"{id} delivered to {what}");

    [Fact]
    public async Task Mail_arriving_while_mutt_rewrites_the_mbox_is_all_there_exactly_once()
    {
        ExternalTool.Require("mutt", "mutt");
        string script = ExternalTool.Require("script", "bsdutils");
        await using var d = await DaemonProcess.StartAsync(output: output);
        string mbox = d.MboxOf(User);
        var tokens = new List<string> { Token.New() };
        await DeliveredAsync(d, await SendAsync(d, tokens[0]), "mailbox");

        string home = Directory.CreateDirectory(Path.Combine(d.ConfigDir, "mutt-home")).FullName;
        string rc = Path.Combine(home, "muttrc");
        File.WriteAllText(rc, string.Join('\n',
            $"set folder=\"{home}\"", $"set spoolfile=\"{mbox}\"", "set mbox_type=mbox", "set move=no", "set quit=yes",
            "set wait_key=no", "set sleep_time=0", "set beep=no", "set mail_check=1", "set timeout=1",
            "set status_format=\"MUTTSTATUS msgs=%m\"", "set index_format=\"MUTTIDX [%s] END\"") + "\n");
        var psi = ProcessRunner.NewStartInfo(script, ["-qfec", $"mutt -n -F '{rc}' -f '{mbox}'", "/dev/null"],
            new Dictionary<string, string?> { ["TERM"] = "xterm", ["HOME"] = home, ["MAIL"] = mbox, ["LANG"] = "C.UTF-8" }, home);
        using var mutt = new Process { StartInfo = psi };
        mutt.Start();
        var screen = new OutputPump(mutt.StandardOutput);
        _ = new OutputPump(mutt.StandardError);
        string Screen() => Mutt.StripTerminalControls(screen.Text);
        try
        {
            await Wait.UntilAsync(() => Screen().Contains(MuttView.StatusLine(1), StringComparison.Ordinal), TimeSpan.FromSeconds(60),
                "mutt to show the mbox", () => Screen());

            // Twenty messages arrive one after another while mutt flags a message and writes the mbox back
            // again and again ("F" flag-message, "$" sync-mailbox): each rewrite races with the appends.
            var ids = new List<string>();
            var sending = Task.Run(async () =>
            {
                for (int i = 0; i < 20; i++)
                {
                    string token = Token.New();
                    lock (tokens) tokens.Add(token);
                    ids.Add(await SendAsync(d, token));
                }
            });
            for (int round = 0; !sending.IsCompleted && round < 300; round++)
            {
                await mutt.StandardInput.WriteAsync("F$");
                await mutt.StandardInput.FlushAsync();
                await Task.Delay(100); // pacing only; nothing below depends on how the two interleave
            }
            await sending;
            foreach (var id in ids) await DeliveredAsync(d, id, "mailbox");

            // Now quiet: mutt takes in what arrived ("$" twice: the first may only notice new mail), then quits.
            await mutt.StandardInput.WriteAsync("$$q");
            await mutt.StandardInput.FlushAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await mutt.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"mutt did not quit; screen:{Environment.NewLine}{Screen()}");
            }
        }
        finally
        {
            if (!mutt.HasExited) mutt.Kill(entireProcessTree: true);
        }
        output.WriteLine(Screen()[^Math.Min(2000, Screen().Length)..]);

        var messages = Mbox.Parse(DaemonProcess.ReadAllShared(mbox));
        Assert.Equal(tokens.Count, messages.Count);
        foreach (var token in tokens)
            Assert.Single(messages, m => m.Header("Subject") == token);
        Assert.All(messages, m => Assert.Matches(FromLine, m.FromLine));
        Assert.All(messages, m => Assert.Single(m.BodyLines, l => l.StartsWith("body t", StringComparison.Ordinal)));
        Assert.False(File.Exists(mbox + ".lock"), "a dotlock was left behind");
        // mutt wrote the mbox back after the last delivery (its Status: header, "O" for seen-as-new), and it kept everything.
        Assert.All(messages, m => Assert.Contains("O", m.Header("Status") ?? ""));
    }

    [Fact]
    public async Task Mutt_reads_a_Maildir_and_sees_every_message_once()
    {
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default with { SpoolMaildir = true }, output);
        var tokens = Enumerable.Range(0, 5).Select(_ => Token.New()).ToList();
        foreach (var token in tokens) await DeliveredAsync(d, await SendAsync(d, token), "maildir");

        string home = Directory.CreateDirectory(Path.Combine(d.ConfigDir, "mutt-home")).FullName;
        var view = await Mutt.ReadFirstMessageAsync(d.MaildirOf(User), home);
        Assert.True(view.Screen.Contains(MuttView.StatusLine(tokens.Count), StringComparison.Ordinal),
            $"mutt does not count {tokens.Count} messages; screen:{Environment.NewLine}{view.Screen}");
        foreach (var token in tokens)
            Assert.True(view.Screen.Contains(MuttView.IndexLine("alice@sender.example", token), StringComparison.Ordinal),
                $"mutt's index lacks {token}; screen:{Environment.NewLine}{view.Screen}");
        Assert.Contains(tokens, t => view.Decoded.Contains("body " + t, StringComparison.Ordinal));
    }
}
