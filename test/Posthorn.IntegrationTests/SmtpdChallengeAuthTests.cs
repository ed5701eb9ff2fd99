using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a mail program that logs in with CRAM-MD5 (RFC 2195) or SCRAM (RFC 5802, RFC 7677), so the
/// password never crosses the wire, against the real daemon: CRAM-MD5 is offered exactly when the passwd-file keeps
/// plaintext ({PLAIN}) secrets, SCRAM also when it keeps {SCRAM-SHA-…} entries made by `posthorn pw`.</summary>
public sealed class SmtpdChallengeAuthTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";
    private const string Password = "cram s3cret";

    /// <summary>The daemon with one AUTH-enabled row (no TLS, so MailKit may use any mechanism) and the given passwd-file
    /// line; <paramref name="scheme"/>, when given, replaces <c>{PW}</c> in it with `posthorn pw -s SCHEME` of the password.</summary>
    private async Task<(DaemonProcess Daemon, int Port)> StartAsync(string passwdLine, string? scheme = null)
    {
        int port = FreePort.Next();
        var d = await DaemonProcess.StartAsync(TestConfig.Default, output, async daemon =>
        {
            string dir = daemon.ConfigDir;
            if (scheme is not null)
            {
                var pw = await daemon.RunToolAsync("pw", "-s", scheme, "-p", Password);
                Assert.True(pw.ExitCode == 0, pw.ToString());
                passwdLine = passwdLine.Replace("{PW}", pw.Stdout.TrimEnd('\n'), StringComparison.Ordinal);
            }
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
            // noplaintext: PLAIN and LOGIN are gone; CRAM-MD5 and SCRAM send no password and stay.
            Assert.Equal(["CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"], client.AuthenticationMechanisms.ToArray());
            // MailKit would take SCRAM-SHA-256 first (tested below): leave it CRAM-MD5 only.
            client.AuthenticationMechanisms.Remove("SCRAM-SHA-1");
            client.AuthenticationMechanisms.Remove("SCRAM-SHA-256");
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
        client.AuthenticationMechanisms.Remove("SCRAM-SHA-1");
        client.AuthenticationMechanisms.Remove("SCRAM-SHA-256");
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

    [Fact]
    public async Task MailKit_logs_in_with_scram_sha_256_against_an_entry_made_by_posthorn_pw_and_the_mail_is_delivered()
    {
        var (d, port) = await StartAsync("alice:{PW}:1000:1000::/nonexistent::", "SCRAM-SHA-256");
        await using var _d = d;
        string token = Token.New();
        using (var client = new SmtpClient { LocalDomain = "client.example", Timeout = 30_000 })
        {
            await client.ConnectAsync("127.0.0.1", port, SecureSocketOptions.None);
            // A stored SCRAM-SHA-256 entry serves that mechanism alone: no plaintext, so no CRAM-MD5 or SHA-1.
            Assert.Equal(["SCRAM-SHA-256"], client.AuthenticationMechanisms.ToArray());
            // MailKit checks the server's signature (v=) too: a server that did not know the keys fails here.
            await client.AuthenticateAsync("alice", Password);
            await client.SendAsync(Message(token));
            await client.DisconnectAsync(quit: true);
        }
        Assert.Single(await d.WaitForMboxAsync(User, token), x => x.Body.Contains(token, StringComparison.Ordinal));
        await d.WaitForLogAsync("sasl_method=SCRAM-SHA-256, sasl_username=alice");
    }

    [Fact]
    public async Task Scram_sha_1_from_a_plain_entry_works_and_a_wrong_password_or_unknown_user_fails_in_postfix_words()
    {
        var (d, port) = await StartAsync($"alice:{{PLAIN}}{Password}:1000:1000::/nonexistent::");
        await using var _d = d;
        using (var client = new SmtpClient { LocalDomain = "client.example", Timeout = 30_000 })
        {
            await client.ConnectAsync("127.0.0.1", port, SecureSocketOptions.None);
            await client.AuthenticateAsync(new SaslMechanismScramSha1(new System.Net.NetworkCredential("alice", Password)));
            await client.SendAsync(Message(Token.New()));
            await client.DisconnectAsync(quit: true);
        }
        await d.WaitForLogAsync("sasl_method=SCRAM-SHA-1, sasl_username=alice");
        foreach (var (user, password) in new[] { ("alice", "wrong"), ("mallory", Password) })
        {
            using var client = new SmtpClient { LocalDomain = "client.example", Timeout = 30_000 };
            await client.ConnectAsync("127.0.0.1", port, SecureSocketOptions.None);
            await Assert.ThrowsAsync<AuthenticationException>(() =>
                client.AuthenticateAsync(new SaslMechanismScramSha256(new System.Net.NetworkCredential(user, password))));
        }
        var failures = (await Wait.ForAsync(() =>
        {
            var lines = d.MaillogLines().Where(l => l.Contains("SASL SCRAM-SHA-256 authentication failed: authentication failure", StringComparison.Ordinal)).ToList();
            return lines.Count == 2 ? lines : null;
        }, DaemonProcess.DeliveryTimeout, "two SCRAM failures in the maillog", d.Diagnostics));
        Assert.All(failures, l => Assert.Contains("warning: localhost[127.0.0.1]: SASL SCRAM-SHA-256 authentication failed", l));
    }
}
