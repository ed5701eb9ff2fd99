using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a mail program submits over TLS with a password, as Thunderbird or a .NET application does:
/// MailKit on a submission-style row (STARTTLS required, AUTH, permit_sasl_authenticated) and on an smtps
/// (wrapper mode) row, and swaks <c>--tls</c>, against the real daemon.</summary>
public sealed class MailKitTlsTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";
    private const string Password = "s3cret pass";

    /// <summary>The daemon with a certificate from <c>posthorn tls new-server-cert</c>, a passwd-file user
    /// alice, and two more rows as Postfix's stock master.cf has them (submission and smtps).</summary>
    private async Task<(DaemonProcess Daemon, int Submission, int Smtps)> StartAsync()
    {
        int submission = FreePort.Next(), smtps = FreePort.Next();
        var d = await DaemonProcess.StartAsync(TestConfig.Default, output, async daemon =>
        {
            string dir = daemon.ConfigDir;
            var cert = await daemon.RunToolAsync("tls", "new-server-cert", "-c", dir);
            Assert.True(cert.ExitCode == 0, cert.ToString());
            File.WriteAllText(Path.Combine(dir, "passwd"), $"alice:{{PLAIN}}{Password}:1000:1000::/nonexistent::\n");
            File.AppendAllText(Path.Combine(dir, "main.cf"), $"""

                smtpd_tls_cert_file = {dir}/tls/cert.pem
                smtpd_tls_key_file = {dir}/tls/key.pem
                smtpd_tls_received_header = yes
                smtpd_sasl_type = posthorn
                posthorn_passwd_file = {dir}/passwd

                """);
            File.AppendAllText(Path.Combine(dir, "master.cf"), $"""
                127.0.0.1:{submission} inet n - n - - smtpd
                  -o smtpd_tls_security_level=encrypt
                  -o smtpd_sasl_auth_enable=yes
                  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
                127.0.0.1:{smtps} inet n - n - - smtpd
                  -o smtpd_tls_wrappermode=yes
                  -o smtpd_sasl_auth_enable=yes
                  -o smtpd_client_restrictions=permit_sasl_authenticated,reject

                """);
        });
        return (d, submission, smtps);
    }

    private static MimeMessage Message(string token)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Alice", "alice@sender.example"));
        message.To.Add(MailboxAddress.Parse(LocalRcpt));
        message.Subject = $"TLS {token}";
        message.Body = new TextPart("plain") { Text = $"über TLS {token}\n" };
        return message;
    }

    private static SmtpClient Client() => new()
    {
        LocalDomain = "client.example",
        Timeout = 30_000,
        // The certificate is self-signed for mail.example.test: accept exactly that one.
        ServerCertificateValidationCallback = (_, certificate, _, _) => certificate?.Subject == "CN=mail.example.test",
    };

    [Fact]
    public async Task MailKit_submits_with_starttls_and_auth_plain_and_the_received_header_says_esmtpsa()
    {
        var (d, submission, _) = await StartAsync();
        await using var _d = d;
        string token = Token.New();
        using (var client = Client())
        {
            await client.ConnectAsync("127.0.0.1", submission, SecureSocketOptions.StartTls);
            Assert.True(client.IsSecure);
            // After STARTTLS the session starts over (RFC 3207 §4.2) and only then offers AUTH.
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Authentication), client.Capabilities.ToString());
            Assert.Contains("PLAIN", client.AuthenticationMechanisms);
            client.AuthenticationMechanisms.ExceptWith(["CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"]);  // offered for the {PLAIN} passwd-file; this test is about PLAIN/LOGIN
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Chunking), client.Capabilities.ToString());
            await client.AuthenticateAsync("alice", Password);
            string reply = await client.SendAsync(Message(token));
            Assert.Matches("^2\\.0\\.0 Ok: queued as [0-9A-F]{10,}$", reply);
            await client.DisconnectAsync(quit: true);
        }
        var m = Assert.Single(await d.WaitForMboxAsync(User, token), x => x.Body.Contains(token, StringComparison.Ordinal));
        string received = m.Header("Received") ?? "";
        Assert.Contains("with ESMTPSA id", received);
        Assert.Contains("(using TLSv1.", received);
        await d.WaitForLogAsync("sasl_method=PLAIN, sasl_username=alice");
    }

    [Fact]
    public async Task Without_auth_the_submission_row_refuses_the_recipient_and_wrong_passwords_fail()
    {
        var (d, submission, _) = await StartAsync();
        await using var _d = d;
        using var client = Client();
        await client.ConnectAsync("127.0.0.1", submission, SecureSocketOptions.StartTls);
        var auth = await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync("alice", "wrong"));
        Assert.Contains("authentication failed", auth.Message);
        var e = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(Message(Token.New())));
        Assert.Equal(SmtpErrorCode.RecipientNotAccepted, e.ErrorCode);
        await d.WaitForLogAsync("SASL PLAIN authentication failed");
        // fail2ban's stock postfix filter in auth mode (its postfix-sasl jail) finds the failure and the address.
        // It knows LOGIN, PLAIN and CRAM/DIGEST-MD5 only, as for a real Postfix: a SCRAM failure is not counted.
        var f2b = await ExternalTool.RunAsync("fail2ban-regex", "fail2ban", [d.MaillogPath, "postfix[mode=auth]"]);
        Assert.True(f2b.ExitCode == 0, f2b.ToString());
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(f2b.Stdout, @"Lines: \d+ lines, \d+ ignored, [1-9]\d* matched"), f2b.Stdout);
        Assert.Contains("127.0.0.1", f2b.Stdout);
    }

    [Fact]
    public async Task MailKit_submits_over_smtps_wrapper_mode_with_auth_login()
    {
        var (d, _, smtps) = await StartAsync();
        await using var _d = d;
        string token = Token.New();
        using (var client = Client())
        {
            await client.ConnectAsync("127.0.0.1", smtps, SecureSocketOptions.SslOnConnect);
            Assert.True(client.IsSecure);
            client.AuthenticationMechanisms.Remove("PLAIN");   // make MailKit use LOGIN
            client.AuthenticationMechanisms.ExceptWith(["CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"]);  // offered for the {PLAIN} passwd-file; this test is about PLAIN/LOGIN
            await client.AuthenticateAsync("alice", Password);
            await client.SendAsync(Message(token));
            await client.DisconnectAsync(quit: true);
        }
        var m = Assert.Single(await d.WaitForMboxAsync(User, token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Contains("with ESMTPSA id", m.Header("Received"));
        await d.WaitForLogAsync("sasl_method=LOGIN, sasl_username=alice");
    }

    [Fact]
    public async Task Swaks_tls_with_auth_is_delivered()
    {
        var (d, submission, _) = await StartAsync();
        await using var _d = d;
        string token = Token.New();
        var r = await ExternalTool.RunAsync("swaks", "swaks",
        [
            "--server", $"127.0.0.1:{submission}", "--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", Password,
            "--to", LocalRcpt, "--from", "alice@sender.example", "--helo", "client.example",
            "--header", $"Subject: swaks tls {token}", "--body", $"x {token}", "--timeout", "30",
        ]);
        Assert.True(r.ExitCode == 0, $"swaks failed:{Environment.NewLine}{r}{Environment.NewLine}{d.Diagnostics()}");
        Assert.Contains("<-  220 2.0.0 Ready to start TLS", r.Stdout);
        var m = Assert.Single(await d.WaitForMboxAsync(User, "x " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Contains("with ESMTPSA id", m.Header("Received"));
    }
}
