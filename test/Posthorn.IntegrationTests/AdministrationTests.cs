using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the administrator's remaining issue 2 steps — Postfix tool names on PATH
/// (install-links), and a mailbox that cannot be written keeps the mail queued.</summary>
public sealed class AdministrationTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;

    [Fact]
    public async Task Install_links_writes_wrappers_that_run_as_the_Postfix_tools()
    {
        await using var d = DaemonProcess.Create(output: output);
        string bin = Path.Combine(d.ConfigDir, "bin");
        var r = await d.RunToolAsync("install-links", bin);
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var name in new[] { "postfix", "postconf", "sendmail", "newaliases", "mailq", "postqueue", "postsuper" })
            Assert.True(File.Exists(Path.Combine(bin, name)), $"{name} wrapper missing: {r}");

        // Typed as in a Postfix tutorial: `postconf -h myhostname`, `mailq`.
        var env = new Dictionary<string, string?>(PosthornExecutable.RuntimeEnvironment()) { ["MAIL_CONFIG"] = d.ConfigDir };
        var postconf = await ProcessRunner.RunAsync(Path.Combine(bin, "postconf"), ["-h", "myhostname"], TimeSpan.FromSeconds(60), env);
        Assert.True(postconf.ExitCode == 0, postconf.ToString());
        Assert.Equal($"{TestConfig.Myhostname}\n", postconf.Stdout);
        var mailq = await ProcessRunner.RunAsync(Path.Combine(bin, "mailq"), [], TimeSpan.FromSeconds(60), env);
        Assert.Equal("Mail queue is empty\n", mailq.Stdout);
    }

    [Fact]
    public async Task A_mailbox_that_cannot_be_written_keeps_the_message_queued_as_deferred_with_the_reason()
    {
        // Maildir per user under D/maildir/; a plain file where USER's Maildir should be makes every
        // attempt fail, even for root.
        var cfg = (TestConfig.Default with { SpoolMaildir = true }).With("queue_run_delay", "1s").With("minimal_backoff_time", "1s");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string blocker = Path.Combine(d.ConfigDir, "maildir", User);
        Directory.CreateDirectory(Path.GetDirectoryName(blocker)!);
        File.WriteAllText(blocker, "not a maildir\n");

        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            string id = await smtp.SendMailAsync("alice@sender.example", $"{User}@{TestConfig.Myhostname}", "Subject: stuck\n\nwaits\n");
            await smtp.CommandAsync("QUIT");
            await d.WaitForLogAsync(l => l.Contains($"{id}: to=<", StringComparison.Ordinal) && l.Contains("status=deferred (", StringComparison.Ordinal), "the deferred delivery");

            var q = await d.RunToolAsync("mailq");
            Assert.Contains(id, q.Stdout, StringComparison.Ordinal);
            Assert.Contains("alice@sender.example", q.Stdout, StringComparison.Ordinal);

            // Once the administrator fixes the mailbox, the retry delivers it and the queue empties.
            File.Delete(blocker);
            await d.WaitForLogAsync($"{id}: removed");
        }
        Assert.Equal("Mail queue is empty\n", (await d.RunToolAsync("mailq")).Stdout);
    }
}
