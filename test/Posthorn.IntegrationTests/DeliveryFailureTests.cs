using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 7, "Proof and bad input"): the real daemon defers a hung command, bounces
/// alias and forwarding loops and error: targets, and smtpd refuses unknown virtual mailbox users.</summary>
public sealed class DeliveryFailureTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;

    private static async Task<string> SendAsync(DaemonProcess d, string rcpt, string message)
    {
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        return await smtp.SendMailAsync("alice@sender.example", rcpt, message);
    }

    private static Task<string> StatusAsync(DaemonProcess d, string id, string rcpt, string status) =>
        d.WaitForLogAsync(l => l.Contains($"postfix/local[", StringComparison.Ordinal) && l.Contains($"{id}: to=<{rcpt}>", StringComparison.Ordinal)
            && l.Contains($"status={status}", StringComparison.Ordinal), $"{id} {status} for {rcpt}");

    [Fact]
    public async Task A_command_past_command_time_limit_is_deferred_and_loops_and_error_targets_bounce()
    {
        // myorigin = $mydomain must be local too, so that the unqualified alias results stay here.
        var config = TestConfig.Default.With("command_time_limit", "2s") with
        {
            Mydestination = TestConfig.MydestinationWithMydomain,
            Aliases = [.. TestConfig.DefaultAliases(), "slow: \"|sleep 60\"", "ping: pong", "pong: ping", "gone: \"error:5.1.6 moved away\""],
        };
        await using var d = await DaemonProcess.StartAsync(config, output);
        string host = TestConfig.Myhostname;

        string slow = await SendAsync(d, $"slow@{host}", Token.Message("slow", "slow"));
        string line = await StatusAsync(d, slow, $"slow@{host}", "deferred");
        // Issue 7 asks for "killed, deferred" (DEVIATION: Postfix's pipe_command bounces with 5.3.0).
        Assert.EndsWith("dsn=4.3.0, status=deferred (Command time limit exceeded: \"sleep 60\")", line);
        // Killed, not left behind: no "sleep 60" of this daemon's remains (zombies awaiting their reaper aside).
        await Wait.UntilAsync(() => !SleepersOf(d.Pid), TimeSpan.FromSeconds(30), "the timed-out command to be gone");

        // Postfix alias.c: an alias loop bounces, 5.4.6.
        string ping = await SendAsync(d, $"ping@{host}", Token.Message("ping", "ping"));
        string loop = await d.WaitForLogAsync(l => l.Contains($"{ping}: to=<", StringComparison.Ordinal)
            && l.Contains("status=bounced", StringComparison.Ordinal), $"{ping} bounced");
        Assert.EndsWith($"orig_to=<ping@{host}>, relay=local, " + loop.Split(", relay=local, ")[1].Split("dsn=")[0] + "dsn=5.4.6, status=bounced (alias database loop for ping)", loop);

        // Postfix local(8): a message that already carries our Delivered-To: has been here: "mail forwarding loop".
        string rcpt = $"{User}@{host}";
        string looped = await SendAsync(d, rcpt, $"Delivered-To: {rcpt}\nSubject: loop\n\nround and round\n");
        Assert.EndsWith($"dsn=5.4.6, status=bounced (mail forwarding loop for {rcpt})", await StatusAsync(d, looped, rcpt, "bounced"));
        Assert.False(File.Exists(d.MboxOf(User)) && DaemonProcess.ReadAllShared(d.MboxOf(User)).Contains("round and round", StringComparison.Ordinal));

        string gone = await SendAsync(d, $"gone@{host}", Token.Message("gone", "gone"));
        Assert.EndsWith("dsn=5.1.6, status=bounced (moved away)", await StatusAsync(d, gone, $"gone@{host}", "bounced"));
    }

    /// <summary>Whether a live <c>sleep 60</c> descends from <paramref name="daemon"/>.</summary>
    private static bool SleepersOf(int? daemon)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")) != "sleep\060\0") continue;
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] == "Z") continue;
                for (int pid = int.Parse(fields[1]); pid > 1; )
                {
                    if (pid == daemon) return true;
                    string s = File.ReadAllText($"/proc/{pid}/stat");
                    pid = int.Parse(s[(s.LastIndexOf(')') + 2)..].Split(' ')[1]);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                // The process ended while we looked.
            }
        }
        return false;
    }

    [Fact]
    public async Task Smtpd_rejects_unknown_virtual_mailbox_users_at_RCPT_and_accepts_listed_ones()
    {
        await using var d = DaemonProcess.Create(output: output);
        File.WriteAllText(Path.Combine(d.ConfigDir, "vmailbox"), "ann@virtual.example virtual.example/ann/\n");
        File.AppendAllText(d.MainCfPath,
            $"virtual_mailbox_domains = virtual.example\nvirtual_mailbox_maps = texthash:{d.ConfigDir}/vmailbox\n" +
            $"virtual_mailbox_base = {d.ConfigDir}/vmail\nvirtual_uid_maps = static:5000\nvirtual_gid_maps = static:5000\nrecipient_delimiter = +\n");
        await d.StartAsync();
        await using var smtp = await d.ConnectAsync();
        smtp.Expect(await smtp.CommandAsync("EHLO client.example"), 250);
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), 250);
        // Postfix smtpd(8) with smtpd_reject_unlisted_recipient = yes and virtual_mailbox_maps:
        smtp.Expect(await smtp.CommandAsync("RCPT TO:<bob@virtual.example>"),
            "550 5.1.1 <bob@virtual.example>: Recipient address rejected: User unknown in virtual mailbox table");
        // A listed user (with an extension) is a destination of this host, not relaying.
        smtp.Expect(await smtp.CommandAsync("RCPT TO:<Ann+news@Virtual.Example>"), 250);
        smtp.Expect(await smtp.CommandAsync("VRFY bob@virtual.example"),
            "550 5.1.1 <bob@virtual.example>: Recipient address rejected: User unknown in virtual mailbox table");
        smtp.Expect(await smtp.CommandAsync("QUIT"), 221);
    }
}
