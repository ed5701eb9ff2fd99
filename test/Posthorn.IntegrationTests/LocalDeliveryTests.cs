using System.Text.RegularExpressions;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: mail for a local user lands in their mbox (or Maildir) with the headers Postfix's
/// cleanup and local add, and the maillog tells its story line by line (issue 2 steps 7 and 8).</summary>
public sealed class LocalDeliveryTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;

    /// <summary>myorigin = $mydomain and $mydomain local, so "root" and alias results (user@example.test) stay local.</summary>
    private static readonly TestConfig DomainWide = TestConfig.Default with { Mydestination = TestConfig.MydestinationWithMydomain };

    [Fact]
    public async Task Mbox_gets_From_line_Return_Path_Delivered_To_Received_Message_ID_and_Date()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string token = Token.New();
        string rcpt = $"{User}@{TestConfig.Myhostname}";
        // No Message-ID and no Date: cleanup must add them. A body line starting "From " must be quoted.
        string id = await smtp.SendMailAsync("alice@sender.example", rcpt,
            Token.Message(token, $"hello {token}\nFrom the start of a line"));

        var messages = await d.WaitForMboxAsync(User, "hello " + token);
        var m = Assert.Single(messages, x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.StartsWith("From alice@sender.example ", m.FromLine);
        Assert.Equal("<alice@sender.example>", m.Header("Return-Path"));
        Assert.Equal(rcpt, m.Header("Delivered-To"));
        // smtpd's Received: "from client.example (localhost [127.0.0.1]) by mail.example.test (Postfix) with ESMTP id ID for <rcpt>; date"
        var received = m.Header("Received") ?? throw new Xunit.Sdk.XunitException("no Received: header");
        Assert.Contains("by mail.example.test", received);
        Assert.Contains($"id {id}", received);
        Assert.Contains("127.0.0.1", received);
        Assert.Matches(new Regex("^<[^<>@\\s]+@[^<>@\\s]+>$"), m.Header("Message-ID") ?? "");
        Assert.True(MimeKit.Utils.DateUtils.TryParse(m.Header("Date") ?? "", out var date), $"Date: {m.Header("Date")}");
        Assert.InRange(date, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1));
        Assert.Equal(token, m.Header("Subject"));
        // Postfix local(8) mbox: a body line starting "From " is quoted as ">From ".
        Assert.Equal([$"hello {token}", ">From the start of a line"], m.BodyLines);
    }

    [Fact]
    public async Task Unqualified_sender_root_becomes_root_at_myorigin()
    {
        await using var d = await DaemonProcess.StartAsync(DomainWide, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string token = Token.New();
        await smtp.SendMailAsync("root", $"{User}@{TestConfig.Myhostname}", $"Subject: {token}\n\nunqualified {token}\n");
        var m = Assert.Single(await d.WaitForMboxAsync(User, "unqualified " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        // cleanup(8) appends @$myorigin (here $mydomain) to an unqualified address.
        Assert.StartsWith("From root@example.test ", m.FromLine);
        Assert.Equal("<root@example.test>", m.Header("Return-Path"));
        // And as the message had no From: header, cleanup adds one from the envelope sender.
        Assert.Contains("root@example.test", m.Header("From") ?? "");
    }

    [Fact]
    public async Task Alias_postmaster_reaches_the_current_user_and_the_maillog_tells_the_whole_story()
    {
        await using var d = await DaemonProcess.StartAsync(DomainWide, output);
        await using var smtp = await d.ConnectAsync();
        Assert.Equal(250, (await smtp.CommandAsync("EHLO client.example")).Code);
        string token = Token.New();
        // aliases: postmaster: root (and root: USER unless the tests run as root).
        string id = await smtp.SendMailAsync("alice@sender.example", "postmaster@mail.example.test",
            $"From: alice@sender.example\nSubject: {token}\nMessage-ID: <{token}@sender.example>\n\nalias {token}\n");
        smtp.Expect(await smtp.CommandAsync("QUIT"), "221 2.0.0 Bye");

        var m = Assert.Single(await d.WaitForMboxAsync(User, "alias " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        // local(8) qualifies alias results with $myorigin: USER@example.test.
        string finalRcpt = $"{User}@{TestConfig.Mydomain}";
        Assert.Equal(finalRcpt, m.Header("Delivered-To"));
        Assert.Equal($"<{token}@sender.example>", m.Header("Message-ID"));

        await d.WaitForLogAsync($"{id}: removed");
        await d.WaitForLogAsync(l => l.Contains("disconnect from", StringComparison.Ordinal) && l.Contains("commands=5", StringComparison.Ordinal), "the session's disconnect");
        var log = d.MaillogLines();
        Assert.All(log.Where(l => l.Contains(id, StringComparison.Ordinal)), l => Assert.NotNull(LogLine.TryParse(l)));

        // At least one: the kit's readiness probe is a session too.
        Assert.NotEmpty(LogLine.Find(log, "smtpd", t => Regex.IsMatch(t, @"^connect from \S+\[127\.0\.0\.1\]$")));
        One(log, "smtpd", t => Regex.IsMatch(t, $@"^{id}: client=\S+\[127\.0\.0\.1\]$"), "client=");
        One(log, "cleanup", t => t == $"{id}: message-id=<{token}@sender.example>", "message-id=");
        One(log, "qmgr", t => Regex.IsMatch(t, $@"^{id}: from=<alice@sender\.example>, size=\d+, nrcpt=1 \(queue active\)$"), "queue active");
        One(log, "local", t => Regex.IsMatch(t,
            $@"^{id}: to=<{Regex.Escape(finalRcpt)}>, orig_to=<postmaster@mail\.example\.test>, relay=local, delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, status=sent \(delivered to mailbox\)$"),
            "status=sent");
        One(log, "qmgr", t => t == $"{id}: removed", "removed");
        One(log, "smtpd", t => Regex.IsMatch(t, @"^disconnect from \S+\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5$"), "disconnect from");
    }

    [Fact]
    public async Task Maildir_spool_delivers_into_new_and_logs_delivered_to_maildir()
    {
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default with { SpoolMaildir = true }, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string token = Token.New();
        string rcpt = $"{User}@{TestConfig.Myhostname}";
        string id = await smtp.SendMailAsync("alice@sender.example", rcpt, Token.Message(token, "maildir " + token));

        string file = await d.WaitForMaildirAsync(User, "maildir " + token);
        // Maildir file names are unique and never start with a dot (those are temporary/hidden).
        Assert.False(Path.GetFileName(file).StartsWith('.'));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(d.MaildirOf(User), "tmp")));
        var m = StoredMessage.Parse(DaemonProcess.ReadAllShared(file));
        Assert.Null(m.FromLine);
        Assert.Equal("<alice@sender.example>", m.Header("Return-Path"));
        Assert.Equal(rcpt, m.Header("Delivered-To"));
        Assert.Equal(["maildir " + token], m.BodyLines);
        await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{rcpt}>", StringComparison.Ordinal)
            && l.EndsWith("status=sent (delivered to maildir)", StringComparison.Ordinal), "delivered to maildir");
        Assert.False(File.Exists(d.MboxOf(User)));
    }

    [Fact]
    public async Task Two_messages_append_to_one_mbox_in_order()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string rcpt = $"{User}@{TestConfig.Myhostname}";
        string first = Token.New(), second = Token.New();
        await smtp.SendMailAsync("alice@sender.example", rcpt, Token.Message(first, "one " + first));
        await d.WaitForMboxAsync(User, "one " + first);
        await smtp.SendMailAsync("bob@sender.example", rcpt, Token.Message(second, "two " + second));
        var messages = await d.WaitForMboxAsync(User, "two " + second);
        Assert.Equal([first, second], messages.Select(x => x.Header("Subject")));
        Assert.StartsWith("From bob@sender.example ", messages[1].FromLine);
    }

    private static void One(IReadOnlyList<string> log, string program, Func<string, bool> match, string what)
    {
        var found = LogLine.Find(log, program, match).ToList();
        if (found.Count != 1)
            throw new Xunit.Sdk.XunitException(
                $"expected one postfix/{program} line with {what}, found {found.Count}; maillog:{Environment.NewLine}{string.Join(Environment.NewLine, log)}");
    }
}
