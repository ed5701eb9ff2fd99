using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a mail user reads over TLS — IMAP STARTTLS, imaps (implicit TLS on its own master.cf
/// row), POP3 STLS — with the certificate `posthorn tls new-server-cert` made, which imapd takes from
/// smtpd_tls_cert_file/smtpd_tls_key_file when imapd_tls_cert_file/imapd_tls_key_file are not set.</summary>
public sealed class ImapTlsTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private const string Password = "tls-pass";

    private static TestConfig Config(string command) => (TestConfig.Default with
    {
        SpoolMaildir = true,
        SecondListenerCommand = command,
    }).With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "")
        .With("smtpd_tls_cert_file", "$config_directory/tls/cert.pem").With("smtpd_tls_key_file", "$config_directory/tls/key.pem");

    /// <summary>Makes the certificate with the real command before the daemon starts (it is read at bind time).</summary>
    private async Task<DaemonProcess> StartAsync(string command)
    {
        var d = DaemonProcess.Create(Config(command), output);
        try
        {
            var tls = await d.RunToolAsync("tls", "new-server-cert");
            Assert.True(tls.ExitCode == 0, tls.Output);
            string home = Path.Combine(d.ConfigDir, "maildir", User);
            File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{User}:{{PLAIN}}{Password}::::{home}::\n");
            await d.StartAsync();
            return d;
        }
        catch
        {
            await d.DisposeAsync();
            throw;
        }
    }

    private static async Task SendAsync(DaemonProcess d, string token)
    {
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string id = await smtp.SendMailAsync("alice@sender.example", $"{User}@{TestConfig.Myhostname}",
            $"From: Alice <alice@sender.example>\nSubject: tls {token}\n\nbody {token}\n");
        await smtp.CommandAsync("QUIT");
        await d.WaitForLogAsync($"{id}: removed");
    }

    [Fact]
    public async Task MailKit_reads_over_IMAP_STARTTLS()
    {
        await using var d = await StartAsync("imapd");
        string token = Token.New();
        await SendAsync(d, token);
        using var imap = new ImapClient { Timeout = 30_000, ServerCertificateValidationCallback = (_, _, _, _) => true };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.StartTls);
        Assert.True(imap.IsSecure);
        // PLAIN by name: the logged method is the point (MailKit would pick SCRAM-SHA-256, also offered).
        await imap.AuthenticateAsync(new SaslMechanismPlain(User, Password));
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal($"tls {token}", (await imap.Inbox.GetMessageAsync(0)).Subject);
        await imap.DisconnectAsync(quit: true);
        await d.WaitForLogAsync(l => l.Contains("dovecot[", StringComparison.Ordinal)
            && l.Contains($"Login: user=<{User}>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS", StringComparison.Ordinal), "the TLS login line");
    }

    [Fact]
    public async Task Fail2bans_stock_dovecot_and_postfix_auth_filters_match_the_failed_logins_in_the_maillog()
    {
        await using var d = await StartAsync("imapd");
        using (var imap = new ImapClient { Timeout = 30_000, ServerCertificateValidationCallback = (_, _, _, _) => true })
        {
            await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.StartTls);
            await Assert.ThrowsAsync<AuthenticationException>(() => imap.AuthenticateAsync(new SaslMechanismPlain(User, "wrong")));
        }
        await d.WaitForLogAsync(l => l.Contains("imap-login: Disconnected (auth failed", StringComparison.Ordinal), "the failed IMAP login");
        // fail2ban-regex LOG FILTER prints "Lines: N lines, 0 ignored, M matched, K missed".
        var dovecot = await ExternalTool.RunAsync("fail2ban-regex", "fail2ban", [d.MaillogPath, "dovecot"]);
        Assert.True(dovecot.ExitCode == 0, dovecot.ToString());
        Assert.Matches(@"Lines: \d+ lines, \d+ ignored, 1 matched", dovecot.Stdout);
        Assert.Contains("127.0.0.1", dovecot.Stdout);
    }

    [Fact]
    public async Task MailKit_reads_over_imaps_SslOnConnect_on_a_wrappermode_row()
    {
        await using var d = await StartAsync("imapd -o imapd_tls_wrappermode=yes");
        string token = Token.New();
        await SendAsync(d, token);
        using var imap = new ImapClient { Timeout = 30_000, ServerCertificateValidationCallback = (_, _, _, _) => true };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.SslOnConnect);
        Assert.True(imap.IsSecure);
        Assert.False(imap.Capabilities.HasFlag(ImapCapabilities.StartTLS));
        await imap.AuthenticateAsync(User, Password);
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal($"tls {token}", (await imap.Inbox.GetMessageAsync(0)).Subject);
        await imap.DisconnectAsync(quit: true);
    }

    [Fact]
    public async Task Curl_fetches_over_imaps()
    {
        ExternalTool.Require("curl", "curl");
        await using var d = await StartAsync("imapd -o imapd_tls_wrappermode=yes");
        string token = Token.New();
        await SendAsync(d, token);
        var r = await ExternalTool.RunAsync("curl", "curl",
            ["-s", "-k", "--max-time", "30", "--url", $"imaps://127.0.0.1:{d.SecondSmtpPort}/INBOX;MAILINDEX=1", "-u", $"{User}:{Password}"]);
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Contains($"Subject: tls {token}", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MailKit_reads_over_POP3_STLS()
    {
        await using var d = await StartAsync("pop3d");
        string token = Token.New();
        await SendAsync(d, token);
        using var pop = new Pop3Client { Timeout = 30_000, ServerCertificateValidationCallback = (_, _, _, _) => true };
        await pop.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.StartTls);
        Assert.True(pop.IsSecure);
        await pop.AuthenticateAsync(User, Password);
        Assert.Equal($"tls {token}", (await pop.GetMessageAsync(0)).Subject);
        await pop.DisconnectAsync(quit: true);
    }
}
