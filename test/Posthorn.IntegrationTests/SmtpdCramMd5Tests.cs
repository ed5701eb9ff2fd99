using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a mail program that logs in with CRAM-MD5 (RFC 2195), so the password never crosses the
/// wire, against the real daemon: offered exactly when the passwd-file keeps plaintext ({PLAIN}) secrets.</summary>
public sealed class SmtpdCramMd5Tests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";
    private const string Password = "cram s3cret";

    /// <summary>The daemon with one AUTH-enabled row (no TLS, so MailKit may use any mechanism) and the given passwd-file line.</summary>
    private async Task<(DaemonProcess Daemon, int Port)> StartAsync(string passwdLine)
    {
        int port = FreePort.Next();
        var d = await DaemonProcess.StartAsync(TestConfig.Default, output, daemon =>
        {
            string dir = daemon.ConfigDir;
            File.WriteAllText(Path.Combine(dir, "passwd"), passwdLine + "\n");
            File.AppendAllText(Path.Combine(dir, "main.cf"), $"""

                smtpd_sasl_type = posthorn
                posthorn_passwd_file = {dir}/passwd

                """);
            File.AppendAllText(Path.Combine(dir, "master.cf"), $"""
                127.0.0.1:{port} inet n - n - - smtpd
                  -o smtpd_sasl_auth_enable=yes
                  -o smtpd_sasl_security_options=noanonymous,noplaintext
                  -o smtpd_client_restrictions=permit_sasl_authenticated,reject

                """);
                return Task.CompletedTask;
        });
        return (d, port);
    }

    private static MimeMessage Message(string token)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Alice", "alice@sender.example"));
        message.To.Add(MailboxAddress.Parse(LocalRcpt));
        message.Subject = $"CRAM {token}";
        message.Body = new TextPart("plain") { Text = $"cram-md5 {token}\n" };
        return message;
    }

    [Fact]
    public async Task MailKit_logs_in_with_cram_md5_against_a_plain_passwd_file_and_the_mail_is_delivered()
    {
        var (d, port) = await StartAsync($"alice:{{PLAIN}}{Password}:1000:1000::/nonexistent::");
        await using var _d = d;
        string token = Token.New();
        using (var client = new SmtpClient { LocalDomain = "client.example", Timeout = 30_000 })
        {
            await client.ConnectAsync("127.0.0.1", port, SecureSocketOptions.None);
            // noplaintext: PLAIN and LOGIN are gone, CRAM-MD5 sends no password and stays.
            Assert.Equal(["CRAM-MD5"], client.AuthenticationMechanisms.ToArray());
            await client.AuthenticateAsync("alice", Password);
            await client.SendAsync(Message(token));
            await client.DisconnectAsync(quit: true);
        }
        var m = Assert.Single(await d.WaitForMboxAsync(User, token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Contains("with ESMTPA id", m.Header("Received"));
        await d.WaitForLogAsync("sasl_method=CRAM-MD5, sasl_username=alice");
    }

    [Fact]
    public async Task A_wrong_cram_md5_secret_fails_in_postfix_words()
    {
        var (d, port) = await StartAsync($"alice:{{CLEAR}}{Password}:1000:1000::/nonexistent::");
        await using var _d = d;
        using var client = new SmtpClient { LocalDomain = "client.example", Timeout = 30_000 };
        await client.ConnectAsync("127.0.0.1", port, SecureSocketOptions.None);
        await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync("alice", "wrong"));
        await d.WaitForLogAsync("SASL CRAM-MD5 authentication failed");
    }

    [Fact]
    public async Task A_hashed_passwd_file_does_not_offer_cram_md5()
    {
        // A SHA512-CRYPT hash cannot answer a CRAM-MD5 challenge: with noplaintext nothing is left, so no AUTH at all.
        var (d, port) = await StartAsync("alice:{SHA512-CRYPT}$6$saltsalt$0123456789abcdef:1000:1000::/nonexistent::");
        await using var _d = d;
        using var client = new SmtpClient { LocalDomain = "client.example", Timeout = 30_000 };
        await client.ConnectAsync("127.0.0.1", port, SecureSocketOptions.None);
        Assert.Empty(client.AuthenticationMechanisms);
        Assert.False(client.Capabilities.HasFlag(SmtpCapabilities.Authentication), client.Capabilities.ToString());
    }
}
