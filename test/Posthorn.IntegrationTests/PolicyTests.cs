using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the administrator tunes cleanup and smtpd (virtual aliases, header_checks) and the
/// server stands up to SMTP smuggling from a client outside mynetworks.</summary>
public sealed class PolicyTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    /// <summary>A mynetworks that does not contain 127.0.0.1: the test client is "outside".</summary>
    private const string OutsideNetworks = "192.0.2.0/24";

    [Fact]
    public async Task Virtual_alias_domain_recipient_is_rewritten_by_cleanup_and_delivered_to_the_local_user()
    {
        var cfg = TestConfig.Default
            .With("virtual_alias_domains", "virt.example")
            .With("virtual_alias_maps", $"inline:{{ team@virt.example={LocalRcpt} }}");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        // Postfix: a virtual alias domain knows only the addresses in virtual_alias_maps.
        smtp.Expect(await smtp.CommandAsync("RCPT TO:<nobody@virt.example>"),
            "550 5.1.1 <nobody@virt.example>: Recipient address rejected: User unknown in virtual alias table");
        smtp.Expect(await smtp.CommandAsync("RCPT TO:<team@virt.example>"), "250 2.1.5 Ok");
        smtp.Expect(await smtp.CommandAsync("DATA"), 354);
        string token = Token.New();
        string id = (await smtp.SendDataAsync(Token.Message(token, "aliased " + token, to: "team@virt.example"))).QueueId
            ?? throw smtp.Fail("no queue id");
        await d.WaitForMboxAsync(User, "aliased " + token);
        string delivered = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{LocalRcpt}>", StringComparison.Ordinal)
            && l.Contains("status=sent", StringComparison.Ordinal), $"{id} delivered");
        Assert.Contains("orig_to=<team@virt.example>", delivered);
    }

    [Fact]
    public async Task Header_checks_reject_ends_data_with_550_5_7_1_and_queues_nothing()
    {
        var cfg = (TestConfig.Default with { Mynetworks = OutsideNetworks })
            .With("header_checks", "regexp:$config_directory/header_checks");
        var d = DaemonProcess.Create(cfg, output);
        await using (d)
        {
            File.WriteAllText(Path.Combine(d.ConfigDir, "header_checks"), "/^Subject:.*lottery/  REJECT\n");
            await d.StartAsync();
            await using var smtp = await d.ConnectAsync();
            await smtp.CommandAsync("EHLO client.example");
            smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), 250);
            smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), 250);
            smtp.Expect(await smtp.CommandAsync("DATA"), 354);
            var reply = await smtp.SendDataAsync(Token.Message("You won the lottery", "send money"));
            smtp.Expect(reply, "550 5.7.1 message content rejected");
            string line = await d.WaitForLogAsync(l => l.Contains(": reject: header Subject: You won the lottery from ", StringComparison.Ordinal),
                "cleanup reject line");
            Assert.Contains($"; from=<alice@sender.example> to=<{LocalRcpt}> proto=ESMTP helo=<client.example>: 5.7.1 message content rejected", line);
            // The session goes on: the next message is accepted.
            string token = Token.New();
            Assert.NotNull(await smtp.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message("fine " + token, "ok " + token)));
            await d.WaitForMboxAsync(User, "ok " + token);
        }
    }

    [Theory]
    [InlineData("\n.\n")]
    [InlineData("\r.\n")]
    [InlineData("\n.\r\n")]
    public async Task Smuggled_end_of_data_from_outside_mynetworks_never_ends_the_message_early(string marker)
    {
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default with { Mynetworks = OutsideNetworks }, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), 250);
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), 250);
        smtp.Expect(await smtp.CommandAsync("DATA"), 354);
        string token = Token.New();
        // CVE-2023-51764: a second, forged transaction hidden behind a non-standard end-of-data sequence.
        await smtp.SendRawAsync($"Subject: carrier {token}\r\n\r\nfirst part{marker}" +
            $"MAIL FROM:<admin@{TestConfig.Myhostname}>\r\nRCPT TO:<{LocalRcpt}>\r\nDATA\r\nSubject: smuggled {token}\r\n\r\nforged\r\n.\r\n");
        var reply = await smtp.ReadReplyAsync();
        // Postfix 3.9 smtpd_forbid_bare_newline = normalize (the default): only <CR><LF>.<CR><LF> ends the data, so the
        // whole text is one message and the forged transaction inside it is content.
        smtp.Expect(reply, 250);
        smtp.Expect(await smtp.CommandAsync("NOOP"), "250 2.0.0 Ok");   // exactly one reply came
        var stored = await d.WaitForMboxAsync(User, "forged");
        var message = Assert.Single(stored, m => m.Body.Contains(token, StringComparison.Ordinal));
        Assert.Contains($"MAIL FROM:<admin@{TestConfig.Myhostname}>", message.Body);
        Assert.DoesNotContain("from=<admin@", d.ReadMaillog());
    }

    [Fact]
    public async Task Cr_dot_crlf_is_content_and_the_message_ends_only_at_crlf_dot_crlf()
    {
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default with { Mynetworks = OutsideNetworks }, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), 250);
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), 250);
        smtp.Expect(await smtp.CommandAsync("DATA"), 354);
        string token = Token.New();
        await smtp.SendRawAsync($"Subject: carrier {token}\r\n\r\nfirst part\r.\r\n" +
            $"MAIL FROM:<admin@{TestConfig.Myhostname}>\r\nRCPT TO:<{LocalRcpt}>\r\nDATA\r\nsmuggled {token}\r\n.\r\n");
        var reply = await smtp.ReadReplyAsync();
        smtp.Expect(reply, 250);
        // Exactly one reply: the "MAIL FROM" inside was content, not a command.
        smtp.Expect(await smtp.CommandAsync("NOOP"), "250 2.0.0 Ok");
        var stored = await d.WaitForMboxAsync(User, "smuggled " + token);
        var message = Assert.Single(stored);
        Assert.Contains("MAIL FROM:<admin@", message.Body);
        Assert.DoesNotContain("from=<admin@", d.ReadMaillog());
    }
}
