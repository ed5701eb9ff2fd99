using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>The tools that act on the running system: reload, mailq, postsuper, sendmail, newaliases.</summary>
public sealed partial class ToolsTests
{
    [Fact]
    public async Task Reload_gives_new_sessions_the_new_banner_while_an_open_session_keeps_working()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        int pid = d.Pid!.Value;
        await using var open = await d.ConnectAsync();
        Assert.StartsWith("220 mail.example.test ESMTP", open.Greeting!.Last);
        await open.CommandAsync("EHLO client.example");
        open.Expect(await open.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");

        string token = Token.New();
        var edit = await d.RunToolAsync("postconf", "-e", $"smtpd_banner=$myhostname ESMTP reloaded {token}");
        Assert.True(edit.ExitCode == 0, edit.ToString());
        var reload = await d.RunToolAsync("postfix", "reload");
        Assert.True(reload.ExitCode == 0, reload.ToString());

        string expected = $"220 mail.example.test ESMTP reloaded {token}";
        await Wait.UntilAsync(async () =>
        {
            await using var fresh = await d.ConnectAsync();
            return fresh.Greeting!.Last == expected;
        }, TimeSpan.FromSeconds(30), $"a new session to be greeted \"{expected}\"", d.Diagnostics);

        // The session opened before the reload finishes its transaction.
        open.Expect(await open.CommandAsync($"RCPT TO:<{User}@{TestConfig.Myhostname}>"), "250 2.1.5 Ok");
        open.Expect(await open.CommandAsync("DATA"), "354 End data with <CR><LF>.<CR><LF>");
        Assert.NotNull((await open.SendDataAsync(Token.Message(token, "across the reload " + token))).QueueId);
        await d.WaitForMboxAsync(User, "across the reload " + token);
        Assert.Equal(pid, d.Pid);
    }

    [Fact]
    public async Task Mailq_says_empty_lists_a_waiting_message_and_postsuper_d_ALL_removes_it()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        var empty = await d.RunToolAsync("mailq");
        Assert.True(empty.ExitCode == 0, empty.ToString());
        Assert.Equal("Mail queue is empty\n", empty.Stdout);

        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync("alice@sender.example", "u@elsewhere.example", Token.Message("waiting", "waits", to: "u@elsewhere.example"));
        }
        await d.WaitForLogAsync(l => l.Contains($"{id}: to=<u@elsewhere.example>", StringComparison.Ordinal)
            && l.Contains("status=deferred", StringComparison.Ordinal), $"{id} deferred");
        var listed = await d.RunToolAsync("mailq");
        Assert.Contains(listed.Stdout.Split('\n'), l => l.StartsWith(id, StringComparison.Ordinal));
        Assert.EndsWith("in 1 Request.\n", listed.Stdout);

        var delete = await d.RunToolAsync("postsuper", "-d", "ALL");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Contains("Deleted: 1 message", delete.Output);
        Assert.Equal("Mail queue is empty\n", (await d.RunToolAsync("mailq")).Stdout);
        Assert.Empty(d.QueueFiles());
    }

    [Fact]
    public async Task Sendmail_submission_is_picked_up_and_delivered()
    {
        await using var d = await DaemonProcess.StartAsync(DomainWide, output);
        string token = Token.New();
        // Unqualified recipient: qualified with $myorigin (example.test, local in DomainWide).
        var r = await d.RunToolWithInputAsync($"Subject: via sendmail {token}\n\nsendmail body {token}\n",
            "sendmail", "-f", "alice@sender.example", User);
        Assert.True(r.ExitCode == 0, r.ToString());

        var m = Assert.Single(await d.WaitForMboxAsync(User, "sendmail body " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.StartsWith("From alice@sender.example ", m.FromLine);
        Assert.Equal($"{User}@{TestConfig.Mydomain}", m.Header("Delivered-To"));
        Assert.Equal($"via sendmail {token}", m.Header("Subject"));
        // Postfix pickup(8): "ID: uid=N from=<sender>"
        await d.WaitForLogAsync(l => LogLine.TryParse(l) is { Program: "pickup" } p
            && p.Text.Contains(" uid=", StringComparison.Ordinal) && p.Text.EndsWith("from=<alice@sender.example>", StringComparison.Ordinal), "a pickup line");
    }

    [Fact]
    public async Task Sendmail_t_takes_recipients_from_the_headers_and_the_sender_from_the_login()
    {
        await using var d = await DaemonProcess.StartAsync(DomainWide, output);
        string token = Token.New();
        var r = await d.RunToolWithInputAsync($"To: {User}@localhost\nSubject: sendmail -t {token}\n\nheaders decide {token}\n", "sendmail", "-t");
        Assert.True(r.ExitCode == 0, r.ToString());
        var m = Assert.Single(await d.WaitForMboxAsync(User, "headers decide " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.StartsWith($"From {User}@{TestConfig.Mydomain} ", m.FromLine);
        Assert.Equal($"{User}@localhost", m.Header("Delivered-To"));
    }

    [Fact]
    public async Task Newaliases_changes_take_effect_without_a_restart()
    {
        await using var d = await DaemonProcess.StartAsync(DomainWide, output);
        int pid = d.Pid!.Value;
        string token = Token.New();
        string alias = "list" + token;
        File.AppendAllText(d.AliasesPath, $"{alias}: {User}\n");

        // The daemon uses the compiled map: an edit of the text file alone changes nothing.
        await using (var before = await d.ConnectAsync())
        {
            await before.CommandAsync("EHLO client.example");
            before.Expect(await before.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
            Assert.Equal(550, (await before.CommandAsync($"RCPT TO:<{alias}@mail.example.test>")).Code);
        }

        var r = await d.RunToolAsync("newaliases");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(Path.Combine(d.ConfigDir, "aliases.db")), "newaliases must write aliases.db (alias_database = hash:D/aliases)");

        await Wait.UntilAsync(async () =>
        {
            await using var s = await d.ConnectAsync();
            await s.CommandAsync("EHLO client.example");
            await s.CommandAsync("MAIL FROM:<alice@sender.example>");
            return (await s.CommandAsync($"RCPT TO:<{alias}@mail.example.test>")).Code == 250;
        }, TimeSpan.FromSeconds(30), $"the new alias {alias} to be accepted", d.Diagnostics);

        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        await smtp.SendMailAsync("alice@sender.example", $"{alias}@mail.example.test", Token.Message(token, "new alias " + token));
        var m = Assert.Single(await d.WaitForMboxAsync(User, "new alias " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Equal($"{User}@{TestConfig.Mydomain}", m.Header("Delivered-To"));
        Assert.Equal(pid, d.Pid);
    }
}
