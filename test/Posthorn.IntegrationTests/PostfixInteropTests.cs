using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: Posthorn talks SMTP with the real Postfix from Debian, both ways, and each side's own
/// log and mailbox prove it: Posthorn's smtp(8) → Postfix's smtpd(8) → Postfix's local(8), and Postfix's
/// smtp(8) → Posthorn's smtpd → Posthorn's local delivery.</summary>
/// <remarks>Runs only as root with /usr/sbin/postfix installed (<see cref="PostfixInstance"/>); otherwise the test
/// writes <c>NOT RUN: reason</c> to its output and passes. Postfix runs on 127.0.0.4, Posthorn on 127.0.0.1.</remarks>
public sealed class PostfixInteropTests(ITestOutputHelper output)
{
    private const string PostfixDomain = "pf.test";
    private const string PostfixUser = "nobody";
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    private bool NotRun()
    {
        if (PostfixInstance.WhyNotAvailable() is not { } why) return false;
        output.WriteLine("NOT RUN: " + why);
        return true;
    }

    private static string QueuedAs(string line)
    {
        const string marker = "(250 2.0.0 Ok: queued as ";
        int at = line.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"no \"{marker}\" in: {line}");
        return line[(at + marker.Length)..].TrimEnd(')');
    }

    [Fact]
    public async Task Posthorn_relays_to_the_real_postfix_which_delivers_to_its_local_mailbox()
    {
        if (NotRun()) return;
        await using var postfix = await PostfixInstance.StartAsync(PostfixDomain, "", output);
        var cfg = TestConfig.Default
            .With("transport_maps", $"inline:{{ {PostfixDomain}=smtp:[{PostfixInstance.Address}]:{postfix.Port} }}");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string rcpt = $"{PostfixUser}@{PostfixDomain}";
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync(LocalRcpt, rcpt, Token.Message($"to postfix {token}", $"posthorn to postfix {token}", from: $"<{LocalRcpt}>", to: rcpt));
        }

        // Posthorn's side: Postfix's smtp(8) line with Postfix's own reply and queue ID.
        string sent = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{rcpt}>", StringComparison.Ordinal) && l.Contains("status=", StringComparison.Ordinal), $"{id} to {rcpt}");
        Assert.Contains("postfix/smtp[", sent);
        Assert.Contains($"relay={PostfixInstance.Address}[{PostfixInstance.Address}]:{postfix.Port}, ", sent);
        Assert.Contains("dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ", sent);
        string postfixId = QueuedAs(sent);

        // Postfix's side, in its own maillog: smtpd took it from Posthorn, local(8) put it in the mailbox.
        string client = await postfix.WaitForLogAsync(l => l.Contains($"postfix/smtpd[", StringComparison.Ordinal) && l.Contains($"{postfixId}: client=", StringComparison.Ordinal), $"{postfixId}: client=");
        Assert.Contains("[127.0.0.1]", client);
        await postfix.WaitForLogAsync(l => l.Contains($"{postfixId}: from=<{LocalRcpt}>", StringComparison.Ordinal), $"{postfixId}: from=");
        string local = await postfix.WaitForLogAsync(l => l.Contains($"{postfixId}: to=<{rcpt}>", StringComparison.Ordinal), $"{postfixId}: to=");
        Assert.Contains("postfix/local[", local);
        Assert.Contains("relay=local, ", local);
        Assert.Contains("dsn=2.0.0, status=sent (delivered to mailbox)", local);

        string mbox = DaemonProcess.ReadAllShared(postfix.MboxOf(PostfixUser));
        var message = Assert.Single(Mbox.Parse(mbox), m => m.Body.Contains(token, StringComparison.Ordinal));
        Assert.Equal($"to postfix {token}", message.Header("Subject"));
        // Postfix's Received: names Posthorn's HELO (smtp_helo_name = $myhostname).
        Assert.Contains($"from {TestConfig.Myhostname} ", message.HeaderValues("Received").First());
        await d.WaitForLogAsync($"{id}: removed");
    }

    [Fact]
    public async Task The_real_postfix_relays_to_posthorn_which_delivers_to_the_local_mbox()
    {
        if (NotRun()) return;
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default, output);
        await using var postfix = await PostfixInstance.StartAsync(PostfixDomain,
            $"transport_maps = inline:{{ {TestConfig.Myhostname}=smtp:[127.0.0.1]:{d.SmtpPort} }}", output);
        string token = Token.New();
        string sender = $"{PostfixUser}@{PostfixDomain}";

        // Submitted to Postfix's smtpd with swaks, as a client of that site would.
        var swaks = await ExternalTool.RunAsync("swaks", "swaks",
        [
            "--server", $"{PostfixInstance.Address}:{postfix.Port}", "--helo", "client.example",
            "--from", sender, "--to", LocalRcpt, "--header", $"Subject: from postfix {token}", "--body", $"postfix to posthorn {token}",
        ]);
        Assert.True(swaks.ExitCode == 0, $"swaks to Postfix failed:{Environment.NewLine}{swaks}{Environment.NewLine}{postfix.Diagnostics()}");

        // Postfix's side: its smtp(8) reached Posthorn and logs Posthorn's reply with Posthorn's queue ID.
        string sent = await postfix.WaitForLogAsync(l => l.Contains($"to=<{LocalRcpt}>", StringComparison.Ordinal) && l.Contains("status=", StringComparison.Ordinal), $"to=<{LocalRcpt}>");
        Assert.Contains("postfix/smtp[", sent);
        Assert.Contains($"relay=127.0.0.1[127.0.0.1]:{d.SmtpPort}, ", sent);
        Assert.Contains("dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ", sent);
        string posthornId = QueuedAs(sent);

        // Posthorn's side: the connection came from Postfix's address, and local delivery put it in the mbox.
        string client = await d.WaitForLogAsync($"{posthornId}: client=");
        Assert.Contains($"[{PostfixInstance.Address}]", client);
        await d.WaitForLogAsync($"{posthornId}: from=<{sender}>");
        string delivered = await d.WaitForLogAsync(l => l.Contains($"{posthornId}: to=<{LocalRcpt}>", StringComparison.Ordinal), $"{posthornId} delivered");
        Assert.Contains("status=sent (delivered to mailbox)", delivered);
        var message = Assert.Single(await d.WaitForMboxAsync(User, token), m => m.Body.Contains(token, StringComparison.Ordinal));
        Assert.Equal($"from postfix {token}", message.Header("Subject"));
        // Posthorn's Received: names Postfix's HELO and address.
        Assert.Contains($"from {postfix.Myhostname} ", message.HeaderValues("Received").First());
        Assert.Contains($"[{PostfixInstance.Address}]", message.HeaderValues("Received").First());
    }

    [Fact]
    public async Task The_real_postfix_hands_local_mail_to_posthorns_lmtpd_as_its_mailbox_transport()
    {
        if (NotRun()) return;
        // Posthorn as the mailbox store: an lmtpd row, and a passwd-file user named as Postfix's local user, whose mail
        // is written with this test's ids so the test can read it.
        var cfg = (TestConfig.Default with { SecondListenerCommand = "lmtpd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");
        var d = DaemonProcess.Create(cfg, output);
        await using var _ = d;
        string home = Path.Combine(d.ConfigDir, "home", PostfixUser);
        var gid = await ProcessRunner.RunAsync("id", ["-g"], TimeSpan.FromSeconds(10));
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{PostfixUser}:{{PLAIN}}x:{Unix.EffectiveUid}:{gid.Stdout.Trim()}::{home}::\n");
        await d.StartAsync();
        int lmtpPort = d.SecondSmtpPort!.Value;
        await using var postfix = await PostfixInstance.StartAsync(PostfixDomain, $"mailbox_transport = lmtp:inet:127.0.0.1:{lmtpPort}", output);
        string token = Token.New();
        string rcpt = $"{PostfixUser}@{PostfixDomain}";

        var swaks = await ExternalTool.RunAsync("swaks", "swaks",
        [
            "--server", $"{PostfixInstance.Address}:{postfix.Port}", "--helo", "client.example",
            "--from", "sender@elsewhere.example", "--to", rcpt, "--header", $"Subject: via lmtp {token}", "--body", $"lmtp store {token}",
        ]);
        Assert.True(swaks.ExitCode == 0, $"swaks to Postfix failed:{Environment.NewLine}{swaks}{Environment.NewLine}{postfix.Diagnostics()}");

        // Postfix's side: its lmtp(8) delivered to Posthorn and logs Posthorn's per-recipient reply (RFC 2033 §4.2).
        string sent = await postfix.WaitForLogAsync(l => l.Contains($"to=<{rcpt}>", StringComparison.Ordinal) && l.Contains("status=", StringComparison.Ordinal), $"to=<{rcpt}>");
        Assert.Contains("postfix/lmtp[", sent);
        Assert.Contains($"relay=127.0.0.1[127.0.0.1]:{lmtpPort}, ", sent);
        Assert.Contains($"dsn=2.0.0, status=sent (250 2.0.0 <{rcpt}> ", sent);

        // Posthorn's side: lmtpd saved it, in Dovecot's words, where local(8) delivers for this user (home_mailbox is
        // empty: the mbox in mail_spool_directory, which imapd serves as INBOX).
        await d.WaitForLogAsync(l => l.Contains($"lmtp({PostfixUser})", StringComparison.Ordinal) && l.Contains("saved mail to INBOX", StringComparison.Ordinal), "lmtp saved");
        var message = Assert.Single(await d.WaitForMboxAsync(PostfixUser, token), m => m.Body.Contains(token, StringComparison.Ordinal));
        Assert.Equal($"via lmtp {token}", message.Header("Subject"));
    }
}
