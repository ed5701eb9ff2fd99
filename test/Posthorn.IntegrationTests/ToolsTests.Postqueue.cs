using System.Text.Json;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>postqueue -j / -i / -s, sendmail -bs / -bv, and pipe(8)'s size= and directory= through the real daemon
/// (issue 6, "Tools"). Mail for other domains is deferred because the test DNS server does not answer.</summary>
public sealed partial class ToolsTests
{
    /// <summary>Submits one message over SMTP and waits until it sits in deferred/ with its first deferral logged.</summary>
    private static async Task<string> DeferredMessageAsync(DaemonProcess d, string recipient)
    {
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync("alice@sender.example", recipient, Token.Message("deferred", "waits " + Token.New(), to: recipient));
        }
        await Wait.UntilAsync(() => DeferralsOf(d, id) == 1 && File.Exists(Path.Combine(d.QueueDirectory, "deferred", id)),
            DaemonProcess.DeliveryTimeout, $"{id} deferred once and in deferred/", d.Diagnostics);
        return id;
    }

    private static int DeferralsOf(DaemonProcess d, string id) =>
        d.MaillogLines().Count(l => l.Contains($"{id}: to=<", StringComparison.Ordinal) && l.Contains("status=deferred", StringComparison.Ordinal));

    [Fact]
    public async Task Postqueue_j_shows_a_deferred_message_with_its_delay_reason_and_i_retries_it_now()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string id = await DeferredMessageAsync(d, "u@elsewhere.example");

        var listing = await d.RunToolAsync("postqueue", "-j");
        Assert.True(listing.ExitCode == 0, listing.ToString());
        var line = Assert.Single(listing.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains(id, StringComparison.Ordinal));
        var o = JsonDocument.Parse(line).RootElement;
        Assert.Equal("deferred", o.GetProperty("queue_name").GetString());
        Assert.Equal(id, o.GetProperty("queue_id").GetString());
        Assert.Equal("alice@sender.example", o.GetProperty("sender").GetString());
        Assert.True(o.GetProperty("message_size").GetInt64() > 0);
        Assert.InRange(o.GetProperty("arrival_time").GetInt64(), DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var rcpt = Assert.Single(o.GetProperty("recipients").EnumerateArray());
        Assert.Equal("u@elsewhere.example", rcpt.GetProperty("address").GetString());
        string reason = rcpt.GetProperty("delay_reason").GetString()!;
        // The reason is the one the deferral logged: "status=deferred (REASON)".
        Assert.Contains(d.MaillogLines(), l => l.Contains($"{id}: to=<u@elsewhere.example>", StringComparison.Ordinal)
            && l.EndsWith($"status=deferred ({reason})", StringComparison.Ordinal));

        // minimal_backoff_time (300s) keeps it waiting; postqueue -i makes the queue manager try it now.
        var flush = await d.RunToolAsync("postqueue", "-i", id);
        Assert.True(flush.ExitCode == 0, flush.ToString());
        await Wait.UntilAsync(() => DeferralsOf(d, id) >= 2, DaemonProcess.DeliveryTimeout, $"{id} tried again after postqueue -i", d.Diagnostics);
    }

    [Fact]
    public async Task Postqueue_s_retries_the_deferred_mail_of_that_site_only()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string wanted = await DeferredMessageAsync(d, "u@elsewhere.example");
        string other = await DeferredMessageAsync(d, "v@other.example");

        var flush = await d.RunToolAsync("postqueue", "-s", "ElseWhere.example");
        Assert.True(flush.ExitCode == 0, flush.ToString());
        await Wait.UntilAsync(() => DeferralsOf(d, wanted) >= 2, DaemonProcess.DeliveryTimeout, $"{wanted} tried again after postqueue -s", d.Diagnostics);
        // Both had the same backoff; only the flushed site was tried again.
        Assert.Equal(1, DeferralsOf(d, other));
        Assert.True(File.Exists(Path.Combine(d.QueueDirectory, "deferred", other)));

        // sendmail -qR is the same request.
        var viaSendmail = await d.RunToolAsync("sendmail", "-qRother.example");
        Assert.True(viaSendmail.ExitCode == 0, viaSendmail.ToString());
        await Wait.UntilAsync(() => DeferralsOf(d, other) >= 2, DaemonProcess.DeliveryTimeout, $"{other} tried again after sendmail -qR", d.Diagnostics);
    }

    [Fact]
    public async Task Sendmail_bs_takes_an_SMTP_dialogue_on_stdin_and_the_message_is_delivered()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string token = Token.New();
        string dialog = $"EHLO client.example\r\nMAIL FROM:<alice@sender.example>\r\nRCPT TO:<{User}@{TestConfig.Myhostname}>\r\nDATA\r\n" +
                        $"Subject: via -bs {token}\r\n\r\nstand-alone body {token}\r\n.\r\nQUIT\r\n";
        var r = await d.RunToolWithInputAsync(dialog, "sendmail", "-bs");
        Assert.True(r.ExitCode == 0, r.ToString());
        var replies = r.Stdout.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith($"220 {TestConfig.Myhostname} ESMTP", replies[0]);
        Assert.Contains(replies, l => l.StartsWith("250 2.0.0 Ok: queued as ", StringComparison.Ordinal));
        Assert.Equal("221 2.0.0 Bye", replies[^1]);

        var m = Assert.Single(await d.WaitForMboxAsync(User, "stand-alone body " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.StartsWith("From alice@sender.example ", m.FromLine);
        Assert.Equal($"via -bs {token}", m.Header("Subject"));
        // Postfix: stand-alone smtpd hands the message to postdrop, so pickup(8) queues it.
        await d.WaitForLogAsync(l => LogLine.TryParse(l) is { Program: "pickup" } p && p.Text.EndsWith("from=<alice@sender.example>", StringComparison.Ordinal),
            "a pickup line for the -bs message");
    }

    [Fact]
    public async Task Sendmail_bv_mails_the_sender_a_report_instead_of_delivering()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string token = Token.New();
        string me = $"{User}@{TestConfig.Myhostname}";
        string unknown = $"nobody{token}@{TestConfig.Myhostname}";
        var r = await d.RunToolAsync("sendmail", "-bv", "-f", me, me, unknown);
        Assert.True(r.ExitCode == 0, r.ToString());

        var report = Assert.Single(await d.WaitForMboxAsync(User, unknown), x => x.Body.Contains(unknown, StringComparison.Ordinal));
        Assert.Equal("Mail Delivery Status Report", report.Header("Subject"));
        Assert.StartsWith("From MAILER-DAEMON ", report.FromLine);
        Assert.Contains("Enclosed is the mail delivery report that you requested.", report.Body);
        Assert.Contains($"<{me}>: delivery via local: delivers to local recipient", report.Body);
        Assert.Contains($"<{unknown}>: unknown user: \"nobody{token}\"", report.Body);
        Assert.Contains("Action: deliverable", report.Body);
        Assert.Contains("Action: undeliverable", report.Body);
        // Only the report arrived: -bv delivers nothing to the recipients themselves.
        Assert.All(Mbox.Parse(DaemonProcess.ReadAllShared(d.MboxOf(User))), x => Assert.Equal("Mail Delivery Status Report", x.Header("Subject")));
    }

    [Fact]
    public async Task Sendmail_I_initializes_the_alias_database_as_newaliases_does()
    {
        await using var d = DaemonProcess.Create(output: output);
        string db = Path.Combine(d.ConfigDir, "aliases.db");
        File.Delete(db);
        var r = await d.RunToolAsync("sendmail", "-I");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(db), "sendmail -I must write aliases.db (alias_database = hash:D/aliases)");
    }

    /// <summary>A daemon with a pipe(8) row <c>mypipe</c> for the domain pipe.test; the script saves its working
    /// directory and input in <paramref name="work"/>.</summary>
    private async Task<DaemonProcess> PipeDaemonAsync(DirectoryInfo work, string attributes)
    {
        File.SetUnixFileMode(work.FullName, (UnixFileMode)0x1FF);   // open to nobody: as root the command runs as user=nobody
        string script = Path.Combine(work.FullName, "deliver.sh");
        File.WriteAllText(script, $"#!/bin/sh\npwd > {work.FullName}/cwd\ncat > {work.FullName}/input\nexit 0\n");
        File.SetUnixFileMode(script, (UnixFileMode)0x1ED);
        var cfg = TestConfig.Default.With("transport_maps", "inline:{ pipe.test=mypipe: }");
        return await DaemonProcess.StartAsync(cfg, output, daemon =>
        {
            File.AppendAllText(Path.Combine(daemon.ConfigDir, "master.cf"), $"mypipe unix - n n - - pipe\n  {attributes} user=nobody argv={script}\n");
            return Task.CompletedTask;
        });
    }

    [Fact]
    public async Task Pipe_size_returns_a_larger_message_to_the_sender_without_running_the_command()
    {
        var work = Directory.CreateTempSubdirectory("posthorn-pipe-size-");
        try
        {
            await using var d = await PipeDaemonAsync(work, "size=1000");
            string token = Token.New();
            string id;
            await using (var smtp = await d.ConnectAsync())
            {
                await smtp.CommandAsync("EHLO client.example");
                id = await smtp.SendMailAsync($"{User}@{TestConfig.Myhostname}", "bob@pipe.test",
                    Token.Message(token, "big " + token + "\n" + string.Concat(Enumerable.Repeat(new string('x', 70) + "\n", 40)), to: "bob@pipe.test"));
            }
            string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<bob@pipe.test>", StringComparison.Ordinal), $"{id} pipe line");
            Assert.Contains("relay=mypipe,", line);
            Assert.Contains("dsn=5.2.3, status=bounced (message too large)", line);
            var bounce = Assert.Single(await d.WaitForMboxAsync(User, "message too large"), x => x.Body.Contains("message too large", StringComparison.Ordinal));
            Assert.Equal("Undelivered Mail Returned to Sender", bounce.Header("Subject"));
            Assert.False(File.Exists(Path.Combine(work.FullName, "input")), "the command must not run for an oversize message");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Pipe_directory_is_the_working_directory_of_the_command()
    {
        var work = Directory.CreateTempSubdirectory("posthorn-pipe-dir-");
        try
        {
            var cwd = Directory.CreateDirectory(Path.Combine(work.FullName, "cwd-here"));
            File.SetUnixFileMode(cwd.FullName, (UnixFileMode)0x1FF);
            await using var d = await PipeDaemonAsync(work, $"directory={cwd.FullName}");
            string token = Token.New();
            string id;
            await using (var smtp = await d.ConnectAsync())
            {
                await smtp.CommandAsync("EHLO client.example");
                id = await smtp.SendMailAsync("alice@sender.example", "bob@pipe.test", Token.Message(token, "piped " + token, to: "bob@pipe.test"));
            }
            string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<bob@pipe.test>", StringComparison.Ordinal), $"{id} pipe line");
            Assert.Contains("status=sent (delivered via mypipe service)", line);
            Assert.Equal(cwd.FullName + "\n", File.ReadAllText(Path.Combine(work.FullName, "cwd")));
            Assert.Contains(token, File.ReadAllText(Path.Combine(work.FullName, "input")));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
