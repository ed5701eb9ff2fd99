using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the administrator tunes what the queue does with mail it cannot deliver yet — soft_bounce
/// while testing, DSN NOTIFY honoured for delay warnings, notify_classes software to hear about a broken transport,
/// and mailbox_transport_maps to send one user's mail elsewhere — and the real daemon does it as Postfix would.</summary>
/// <remarks>postconf(5) soft_bounce, delay_warning_time, notify_classes, error_notice_recipient; RFC 3461 §4.1;
/// local(8) mailbox_transport_maps. Dead next hops are <c>[127.0.0.1]:PORT</c> with nothing listening.</remarks>
public sealed class QueuePolicyTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    [Fact]
    public async Task Soft_bounce_turns_smtpd_5xx_replies_into_4xx()
    {
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default.With("soft_bounce", "yes"), output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        // Postfix smtpd_chat.c soft bounce safety net: 550 5.1.1 goes out as 450 4.1.1, same text.
        smtp.Expect(await smtp.CommandAsync("RCPT TO:<nobody1@mail.example.test>"),
            "450 4.1.1 <nobody1@mail.example.test>: Recipient address rejected: User unknown in local recipient table");
        // It covers protocol errors too; 4xx replies are left alone.
        var unknown = await smtp.CommandAsync("FROBNICATE");
        Assert.Equal(400, unknown.Code);
        Assert.StartsWith("400 4.", unknown.Last);
        // A valid recipient is still accepted.
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "250 2.1.5 Ok");
        // smtpd_check.c applies the safety net to the reject log line too: the log shows what the client got.
        await d.WaitForLogAsync("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 450 4.1.1 <nobody1@mail.example.test>: Recipient address rejected");
    }

    [Fact]
    public async Task Soft_bounce_local_bounce_is_logged_as_softbounce_and_stays_queued()
    {
        // local_recipient_maps empty: smtpd accepts any local name, so local(8) meets the unknown user.
        var cfg = TestConfig.Default.With("soft_bounce", "yes").With("local_recipient_maps", "");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync("alice@sender.example", "nobody1@mail.example.test", Token.Message(token, "for nobody " + token));
        }
        string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<nobody1@mail.example.test>", StringComparison.Ordinal), $"{id} local line");
        Assert.Contains("postfix/local[", line);
        Assert.Contains("dsn=4.1.1, status=SOFTBOUNCE (unknown user: \"nobody1\")", line);
        await Wait.UntilAsync(() => File.Exists(Path.Combine(d.QueueDirectory, "deferred", id)), DaemonProcess.DeliveryTimeout,
            $"{id} in deferred/", d.Diagnostics);
        Assert.DoesNotContain(d.MaillogLines(), l => l.Contains($"{id}: sender non-delivery notification", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Delay_warnings_go_only_to_senders_whose_recipients_asked_for_delay()
    {
        int deadPort = FreePort.Next();
        var cfg = TestConfig.Default
            .With("transport_maps", $"inline:{{ dead.test=smtp:[127.0.0.1]:{deadPort} }}")
            .With("delay_warning_time", "1s");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string warnToken = Token.New(), quietToken = Token.New();
        string warned, quiet;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            quiet = await SendWithNotifyAsync(smtp, "FAILURE", quietToken);
            warned = await SendWithNotifyAsync(smtp, "DELAY,FAILURE", warnToken);
        }

        await d.WaitForLogAsync(l => l.Contains($"{warned}: sender delay notification: ", StringComparison.Ordinal), $"{warned} warning");
        var mbox = await d.WaitForMboxAsync(User, "Delayed Mail (still being retried)");
        Assert.Contains(mbox, m => m.Body.Contains($"X-Postfix-Queue-ID: {warned}", StringComparison.Ordinal));
        // The other message has had its round (it is back in deferred/) and no warning.
        await Wait.UntilAsync(() => File.Exists(Path.Combine(d.QueueDirectory, "deferred", quiet)), DaemonProcess.DeliveryTimeout,
            $"{quiet} in deferred/", d.Diagnostics);
        Assert.DoesNotContain(d.MaillogLines(), l => l.Contains($"{quiet}: sender delay notification", StringComparison.Ordinal));
    }

    private static async Task<string> SendWithNotifyAsync(RawSmtp smtp, string notify, string token)
    {
        smtp.Expect(await smtp.CommandAsync($"MAIL FROM:<{LocalRcpt}>"), 250);
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<x@dead.test> NOTIFY={notify}"), 250);
        smtp.Expect(await smtp.CommandAsync("DATA"), 354);
        var reply = await smtp.SendDataAsync(Token.Message(token, "slow " + token, to: "x@dead.test"));
        smtp.Expect(reply, 250);
        return reply.QueueId ?? throw new InvalidOperationException(reply.Last);
    }

    [Fact]
    public async Task A_transport_without_a_master_cf_row_is_reported_to_error_notice_recipient_with_notify_classes_software()
    {
        var cfg = TestConfig.Default
            .With("transport_maps", "inline:{ nowhere.test=nosuch: }")
            .With("notify_classes", "software")
            .With("error_notice_recipient", LocalRcpt);
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync("alice@sender.example", "x@nowhere.test", Token.Message(token, "lost " + token, to: "x@nowhere.test"));
        }
        await d.WaitForLogAsync(l => l.Contains($"{id}: postmaster software notification: ", StringComparison.Ordinal), $"{id} notice");
        var mbox = await d.WaitForMboxAsync(User, "Delayed Mail (software problem)");
        var notice = Assert.Single(mbox, m => m.Body.Contains($"X-Postfix-Queue-ID: {id}", StringComparison.Ordinal));
        Assert.Contains("<x@nowhere.test>: mail transport unavailable", notice.Body);
    }

    [Fact]
    public async Task Mailbox_transport_maps_sends_one_users_mailbox_delivery_to_another_transport()
    {
        var cfg = TestConfig.Default.With("mailbox_transport_maps", $"inline:{{ {{{User}=discard:kept away by the map}} }}");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message(token, "mapped " + token));
        }
        string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{LocalRcpt}>", StringComparison.Ordinal), $"{id} line");
        Assert.Contains("postfix/discard[", line);
        Assert.Contains("status=sent (kept away by the map)", line);
        await d.WaitForLogAsync($"{id}: removed");
        Assert.False(File.Exists(d.MboxOf(User)) && DaemonProcess.ReadAllShared(d.MboxOf(User)).Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pipe_row_in_master_cf_delivers_to_a_command_with_expanded_arguments()
    {
        var work = Directory.CreateTempSubdirectory("posthorn-pipe-");
        try
        {
            // Open to nobody: as root the command runs as user=nobody.
            File.SetUnixFileMode(work.FullName, (UnixFileMode)0x1FF);
            string script = Path.Combine(work.FullName, "deliver.sh");
            File.WriteAllText(script, $"#!/bin/sh\nprintf '%s|' \"$@\" > {work.FullName}/argv\ncat > {work.FullName}/input\nexit 0\n");
            File.SetUnixFileMode(script, (UnixFileMode)0x1ED);
            var cfg = TestConfig.Default.With("transport_maps", "inline:{ pipe.test=mypipe:gateway.example }")
                .With("mypipe_destination_recipient_limit", "1");
            await using var d = await DaemonProcess.StartAsync(cfg, output, daemon =>
            {
                File.AppendAllText(Path.Combine(daemon.ConfigDir, "master.cf"),
                    "mypipe unix - n n - - pipe\n  flags=FR user=nobody argv=" + script + " -f ${sender} -h ${nexthop} ${recipient}\n");
                return Task.CompletedTask;
            });
            string token = Token.New();
            string id;
            await using (var smtp = await d.ConnectAsync())
            {
                await smtp.CommandAsync("EHLO client.example");
                id = await smtp.SendMailAsync("alice@sender.example", "bob@pipe.test", Token.Message(token, "piped " + token, to: "bob@pipe.test"));
            }
            string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<bob@pipe.test>", StringComparison.Ordinal), $"{id} pipe line");
            Assert.Contains("postfix/pipe[", line);
            Assert.Contains("relay=mypipe,", line);
            Assert.Contains("status=sent (delivered via mypipe service)", line);
            Assert.Equal("-f|alice@sender.example|-h|gateway.example|bob@pipe.test|", File.ReadAllText(Path.Combine(work.FullName, "argv")));
            string input = File.ReadAllText(Path.Combine(work.FullName, "input"));
            Assert.StartsWith("From alice@sender.example  ", input);
            Assert.Contains("Return-Path: <alice@sender.example>", input);
            Assert.Contains(token, input);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
