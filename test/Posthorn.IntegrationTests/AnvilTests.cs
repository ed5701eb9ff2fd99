using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the administrator asks the running daemon who is connected and how fast
/// (<c>posthorn anvil</c>, the per-client view Postfix's anvil(8) keeps), and refuses a message at end of data.</summary>
public sealed class AnvilTests(ITestOutputHelper output)
{
    private static readonly string LocalRcpt = $"{TestConfig.User}@{TestConfig.Myhostname}";

    /// <summary>The table row of <paramref name="key"/> split on white space, or empty.</summary>
    private static string[] Row(string stdout, string key) =>
        stdout.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).FirstOrDefault(f => f.Length == 6 && f[0] == key) ?? [];

    [Fact]
    public async Task Anvil_shows_two_open_connections_their_rates_and_postfix_statistics_lines()
    {
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default, output);
        // anvil's key is service:address; the test master.cf names the service 127.0.0.1:PORT.
        string key = $"127.0.0.1:{d.SmtpPort}:127.0.0.1";
        await using var first = await d.ConnectAsync();
        await using var second = await d.ConnectAsync();
        await first.CommandAsync("EHLO client.example");
        first.Expect(await first.CommandAsync("MAIL FROM:<alice@sender.example>"), 250);
        first.Expect(await first.CommandAsync($"RCPT TO:<{LocalRcpt}>"), 250);
        first.Expect(await first.CommandAsync($"RCPT TO:<{LocalRcpt}>"), 250);
        ToolResult view = new(1, "", "");
        string[] row = [];
        // The start-up probe's session may still be open for a moment: wait until exactly our two are.
        await Wait.UntilAsync(async () =>
        {
            view = await d.RunToolAsync("anvil");
            row = Row(view.Stdout, key);
            return view.ExitCode == 0 && row.Length == 6 && row[1] == "2";
        }, TimeSpan.FromSeconds(20), "posthorn anvil showing 2 connections", () => view + d.Diagnostics());
        Assert.Equal(("1/60s", "2/60s", "0/60s"), (row[3], row[4], row[5]));
        int rate = int.Parse(row[2].Split('/')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(rate >= 2, view.Stdout);
        Assert.Contains(view.Stdout.Split('\n'), l => l.StartsWith($"statistics: max connection count ", StringComparison.Ordinal)
            && l.Contains($" for ({key}) at ", StringComparison.Ordinal));
        Assert.Contains(view.Stdout.Split('\n'), l => l.StartsWith($"statistics: max recipient rate 2/60s for ({key}) at ", StringComparison.Ordinal));

        // Both sessions end: the row stays (its rates are still within the time unit) with no open connection.
        first.Expect(await first.CommandAsync("QUIT"), 221);
        second.Expect(await second.CommandAsync("QUIT"), 221);
        await Wait.UntilAsync(async () =>
        {
            view = await d.RunToolAsync("anvil");
            row = Row(view.Stdout, key);
            return row.Length == 6 && row[1] == "0";
        }, TimeSpan.FromSeconds(20), "posthorn anvil showing the connections closed", () => view + d.Diagnostics());
        Assert.Equal("1/60s", row[3]);
    }

    [Fact]
    public async Task Anvil_without_a_running_daemon_says_so()
    {
        var d = DaemonProcess.Create(TestConfig.Default, output);
        await using (d)
        {
            var r = await d.RunToolAsync("anvil");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("posthorn/anvil: fatal: the Postfix mail system is not running", r.Stderr);
        }
    }

    [Fact]
    public async Task End_of_data_restrictions_refuse_the_message_after_the_dot()
    {
        var cfg = TestConfig.Default.With("smtpd_end_of_data_restrictions", "reject");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), 250);
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), 250);
        smtp.Expect(await smtp.CommandAsync("DATA"), 354);
        var reply = await smtp.SendDataAsync(Token.Message("refused at the end", "body"));
        smtp.Expect(reply, "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied");
        string line = await d.WaitForLogAsync(l => l.Contains(": reject: END-OF-MESSAGE from ", StringComparison.Ordinal), "end-of-data reject line");
        Assert.Contains($"554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied; from=<alice@sender.example> to=<{LocalRcpt}> proto=ESMTP helo=<client.example>", line);
        var queue = await d.RunToolAsync("mailq");
        Assert.Contains("Mail queue is empty", queue.Output);
    }
}
