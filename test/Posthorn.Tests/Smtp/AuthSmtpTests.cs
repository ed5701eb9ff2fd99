using Xunit;
using System.Text;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>SMTP AUTH (RFC 4954) PLAIN and LOGIN in the engine, over a real loopback connection.</summary>
public class AuthSmtpTests
{
    private const string LogPrefix = "postfix/smtpd[4242]: ";

    private static SmtpServerOptions Options(TestAuthenticator auth) => LoopbackSmtp.TlsOptions with
    {
        SaslAuthEnable = true,
        Authenticator = auth,
    };

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static async Task<LoopbackSmtp> StartAsync(SmtpServerOptions options)
    {
        var s = await LoopbackSmtp.StartAsync(options);
        await s.CommandAsync("EHLO client.example");
        return s;
    }

    [Fact]
    public async Task Ehlo_announces_plain_and_login_in_postfix_order()
    {
        await using var s = await LoopbackSmtp.StartAsync(Options(new()));
        Assert.Equal("250-mail.example.test\n250-PIPELINING\n250-SIZE 10240000\n250-VRFY\n250-ETRN\n250-STARTTLS\n" +
            "250-AUTH PLAIN LOGIN\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-DSN\n250-SMTPUTF8\n250 CHUNKING", await s.CommandAsync("EHLO client.example"));
    }

    [Fact]
    public async Task Broken_sasl_auth_clients_adds_the_auth_equals_line()
    {
        await using var s = await LoopbackSmtp.StartAsync(Options(new()) with { BrokenSaslAuthClients = true });
        Assert.Contains("250-AUTH PLAIN LOGIN\n250-AUTH=PLAIN LOGIN\n", await s.CommandAsync("EHLO client.example"));
    }

    [Fact]
    public async Task Plain_with_an_initial_response_succeeds_and_the_queue_id_line_names_the_user()
    {
        var auth = new TestAuthenticator();
        await using var s = await StartAsync(Options(auth) with { SaslAuthenticatedHeader = true });
        Assert.Equal("235 2.7.0 Authentication successful", await s.CommandAsync("AUTH PLAIN " + B64("\0alice\0secret")));
        Assert.Equal("503 5.5.1 Error: already authenticated", await s.CommandAsync("AUTH PLAIN " + B64("\0alice\0secret")));
        Assert.Equal("250 2.1.0 Ok", await s.CommandAsync("MAIL FROM:<alice@example.com> AUTH=<>"));
        Assert.Equal("503 5.5.1 Error: MAIL transaction in progress", await s.CommandAsync("AUTH LOGIN"));
        await s.CommandAsync("RCPT TO:<b@example.com>");
        await s.CommandAsync("DATA");
        Assert.StartsWith("250 2.0.0 Ok", await s.CommandAsync("Subject: t\r\n\r\nhi\r\n."));
        Assert.StartsWith("Received: from client.example (localhost [127.0.0.1])\n\t(Authenticated sender: alice)\n" +
            "\tby mail.example.test (Posthorn) with ESMTPA id ", s.Sink.Writers[0].Content);
        Assert.Equal(1, auth.Calls);
        Assert.Equal("221 2.0.0 Bye", await s.CommandAsync("QUIT"));
        await s.FinishAsync();
        Assert.Contains(LogPrefix + "disconnect from localhost[127.0.0.1] ehlo=1 auth=1/3 mail=1 rcpt=1 data=1 quit=1 commands=6/8", s.Log);
        Assert.DoesNotContain(s.Log, l => l.Contains("secret") || l.Contains(B64("\0alice\0secret")));
    }

    [Fact]
    public async Task Plain_with_a_wrong_password_is_535_and_logged_for_fail2ban()
    {
        await using var s = await StartAsync(Options(new()));
        Assert.Equal("535 5.7.8 Error: authentication failed: authentication failure",
            await s.CommandAsync("AUTH PLAIN " + B64("\0alice\0wrong")));
        Assert.Contains("postfix/smtpd[4242]: warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: authentication failure", s.Log);
        // Still not logged in: a relay decision would not see a user.
        Assert.Equal("250 2.1.0 Ok", await s.CommandAsync("MAIL FROM:<a@example.com>"));
        Assert.DoesNotContain(s.Log, l => l.Contains("wrong"));
    }

    [Fact]
    public async Task Plain_without_initial_response_gets_an_empty_challenge()
    {
        await using var s = await StartAsync(Options(new()));
        Assert.Equal("334 ", await s.CommandAsync("AUTH PLAIN"));
        Assert.Equal("235 2.7.0 Authentication successful", await s.CommandAsync(B64("bob\0bob\0hunter2")));
    }

    [Fact]
    public async Task Plain_with_another_authorization_identity_fails()
    {
        await using var s = await StartAsync(Options(new()));
        Assert.Equal("535 5.7.8 Error: authentication failed: authentication failure",
            await s.CommandAsync("AUTH PLAIN " + B64("bob\0alice\0secret")));
    }

    [Fact]
    public async Task Login_asks_for_username_and_password()
    {
        await using var s = await StartAsync(Options(new()));
        Assert.Equal("334 VXNlcm5hbWU6", await s.CommandAsync("auth login"));
        Assert.Equal("334 UGFzc3dvcmQ6", await s.CommandAsync(B64("alice")));
        Assert.Equal("235 2.7.0 Authentication successful", await s.CommandAsync(B64("secret")));
    }

    [Fact]
    public async Task Login_with_the_username_as_initial_response_and_a_wrong_password_is_logged_as_login()
    {
        await using var s = await StartAsync(Options(new()));
        Assert.Equal("334 UGFzc3dvcmQ6", await s.CommandAsync("AUTH LOGIN " + B64("alice")));
        Assert.Equal("535 5.7.8 Error: authentication failed: authentication failure", await s.CommandAsync(B64("nope")));
        Assert.Contains("postfix/smtpd[4242]: warning: localhost[127.0.0.1]: SASL LOGIN authentication failed: authentication failure", s.Log);
    }

    [Fact]
    public async Task Star_cancels_the_exchange()
    {
        await using var s = await StartAsync(Options(new()));
        Assert.Equal("334 VXNlcm5hbWU6", await s.CommandAsync("AUTH LOGIN"));
        Assert.Equal("501 5.7.0 Authentication aborted", await s.CommandAsync("*"));
        Assert.Contains("postfix/smtpd[4242]: warning: localhost[127.0.0.1]: SASL LOGIN authentication aborted", s.Log);
        Assert.Equal("250 2.0.0 Ok", await s.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task Equals_is_an_empty_initial_response_and_fails_plain()
    {
        var auth = new TestAuthenticator();
        await using var s = await StartAsync(Options(auth));
        Assert.Equal("535 5.7.8 Error: authentication failed: authentication failure", await s.CommandAsync("AUTH PLAIN ="));
        Assert.Equal(0, auth.Calls);
    }

    [Theory]
    [InlineData("AUTH CRAM-MD5", "504 5.5.4 Unsupported authentication mechanism")]
    [InlineData("AUTH", "501 5.5.4 Syntax: AUTH mechanism")]
    [InlineData("AUTH PLAIN a b", "501 5.5.4 Syntax: AUTH mechanism")]
    [InlineData("AUTH PLAIN AGFsaWNlAHNlY3J", "501 5.5.2 Cannot decode response")]   // truncated base64
    [InlineData("AUTH PLAIN !!!!", "501 5.5.2 Cannot decode response")]
    public async Task Malformed_auth_commands_get_postfix_replies(string command, string reply)
    {
        await using var s = await StartAsync(Options(new()));
        Assert.Equal(reply, await s.CommandAsync(command));
    }

    [Fact]
    public async Task Auth_needs_helo_first_and_is_refused_when_not_enabled()
    {
        await using var s = await LoopbackSmtp.StartAsync(Options(new()));
        Assert.Equal("503 5.5.1 Error: send HELO/EHLO first", await s.CommandAsync("AUTH PLAIN"));
        await using var off = await StartAsync(LoopbackSmtp.TlsOptions);
        Assert.Equal("503 5.5.1 Error: authentication not enabled", await off.CommandAsync("AUTH PLAIN " + B64("\0alice\0secret")));
        Assert.Equal("555 5.5.4 Unsupported option: AUTH=<>", await off.CommandAsync("MAIL FROM:<a@example.com> AUTH=<>"));
    }

    [Fact]
    public async Task Mail_from_auth_parameter_must_be_xtext()
    {
        await using var s = await StartAsync(Options(new()));
        Assert.Equal("501 5.5.4 Bad AUTH parameter syntax", await s.CommandAsync("MAIL FROM:<a@example.com> AUTH=a+zz"));
        Assert.Equal("250 2.1.0 Ok", await s.CommandAsync("MAIL FROM:<a@example.com> AUTH=alice+40example.com"));
    }

    [Fact]
    public async Task Noplaintext_offers_auth_only_after_starttls_and_the_login_is_esmtpsa()
    {
        var options = Options(new()) with { SaslNoPlaintext = true, SaslAuthenticatedHeader = true };
        await using var s = await LoopbackSmtp.StartAsync(options);
        Assert.DoesNotContain("AUTH", await s.CommandAsync("EHLO client.example"));
        Assert.Equal("503 5.5.1 Error: authentication not enabled", await s.CommandAsync("AUTH PLAIN " + B64("\0alice\0secret")));
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.StartClientTlsAsync();
        Assert.Contains("250-AUTH PLAIN LOGIN", await s.CommandAsync("EHLO client.example"));
        Assert.Equal("235 2.7.0 Authentication successful", await s.CommandAsync("AUTH PLAIN " + B64("\0alice\0secret")));
        await s.CommandAsync("MAIL FROM:<alice@example.com>");
        await s.CommandAsync("RCPT TO:<b@example.com>");
        await s.CommandAsync("DATA");
        Assert.StartsWith("250 2.0.0 Ok", await s.CommandAsync("Subject: t\r\n\r\nhi\r\n."));
        Assert.Contains("\t(Authenticated sender: alice)\n\tby mail.example.test (Posthorn) with ESMTPSA id ", s.Sink.Writers[0].Content);
    }

    [Fact]
    public async Task Tls_auth_only_hides_auth_until_tls()
    {
        await using var s = await LoopbackSmtp.StartAsync(Options(new()) with { TlsAuthOnly = true });
        Assert.DoesNotContain("AUTH", await s.CommandAsync("EHLO client.example"));
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.StartClientTlsAsync();
        Assert.Contains("250-AUTH PLAIN LOGIN", await s.CommandAsync("EHLO client.example"));
    }

    [Fact]
    public async Task Starttls_forgets_a_login_made_before_it()
    {
        await using var s = await StartAsync(Options(new()));
        Assert.Equal("235 2.7.0 Authentication successful", await s.CommandAsync("AUTH PLAIN " + B64("\0alice\0secret")));
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.StartClientTlsAsync();
        await s.CommandAsync("EHLO client.example");
        Assert.Equal("235 2.7.0 Authentication successful", await s.CommandAsync("AUTH PLAIN " + B64("\0bob\0hunter2")));
    }

    [Fact]
    public async Task An_overlong_auth_response_is_refused_and_never_logged()
    {
        await using var s = await StartAsync(Options(new()) with { LineLengthLimit = 64 });
        Assert.Equal("334 ", await s.CommandAsync("AUTH PLAIN"));
        string response = B64("\0alice\0" + new string('p', 100));
        Assert.Equal("500 5.5.6 Authentication exchange line is too long", await s.CommandAsync(response));
        Assert.DoesNotContain(s.Log, l => l.Contains(response[..20]) || l.Contains("request longer than"));
    }
}
