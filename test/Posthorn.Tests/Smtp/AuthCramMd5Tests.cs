using System.Security.Cryptography;
using System.Text;
using Xunit;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>AUTH CRAM-MD5 (RFC 2195) in the engine: offered only when plaintext secrets are at hand.</summary>
public class AuthCramMd5Tests
{
    private sealed class SecretAuthenticator(bool plaintext) : ISmtpSecretAuthenticator
    {
        public bool HasPlaintextSecrets => plaintext;

        public ValueTask<SmtpAuthResult> AuthenticateAsync(string user, string password, CancellationToken ct) =>
            ValueTask.FromResult(user == "alice" && password == "tanstaaftanstaaf" ? SmtpAuthResult.Success : SmtpAuthResult.Failure);

        public ValueTask<(SmtpAuthResult Result, string? Secret)> GetSecretAsync(string user, CancellationToken ct) =>
            ValueTask.FromResult(user == "alice" ? (SmtpAuthResult.Success, (string?)"tanstaaftanstaaf") : (SmtpAuthResult.Failure, null));
    }

    private static SmtpServerOptions Options(bool plaintext, bool noPlaintext = false) => SmtpHarness.DefaultOptions with
    {
        SaslAuthEnable = true,
        Authenticator = new SecretAuthenticator(plaintext),
        SaslNoPlaintext = noPlaintext,
    };

    private static string Answer(string challengeBase64, string user, string secret)
    {
        byte[] challenge = Convert.FromBase64String(challengeBase64);
        string digest = Convert.ToHexStringLower(HMACMD5.HashData(Encoding.UTF8.GetBytes(secret), challenge));
        return Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user} {digest}"));
    }

    [Fact]
    public void The_rfc_2195_example_digest_is_what_the_server_computes()
    {
        // RFC 2195 §2: the example exchange.
        string challenge = Convert.ToBase64String(Encoding.ASCII.GetBytes("<1896.697170952@postoffice.reston.mci.net>"));
        Assert.Equal("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", Answer(challenge, "tim", "tanstaaftanstaaf"));
    }

    [Fact]
    public async Task Cram_md5_is_offered_only_with_plaintext_secrets_and_survives_noplaintext()
    {
        await using (var h = await SmtpHarness.StartAsync(Options(plaintext: false)))
            Assert.Contains("250-AUTH PLAIN LOGIN\n", await h.CommandAsync("EHLO c"));
        await using (var h = await SmtpHarness.StartAsync(Options(plaintext: true)))
            Assert.Contains("250-AUTH PLAIN LOGIN CRAM-MD5\n", await h.CommandAsync("EHLO c"));
        await using var n = await SmtpHarness.StartAsync(Options(plaintext: true, noPlaintext: true));
        Assert.Contains("250-AUTH CRAM-MD5\n", await n.CommandAsync("EHLO c"));
    }

    [Fact]
    public async Task A_right_digest_logs_in_and_a_wrong_one_fails_like_postfix()
    {
        await using var h = await SmtpHarness.StartAsync(Options(plaintext: true));
        await h.CommandAsync("EHLO c");
        string challenge = (await h.CommandAsync("AUTH CRAM-MD5"))[4..];
        Assert.Matches("^<\\d+\\.\\d+@mail\\.example\\.test>$", Encoding.ASCII.GetString(Convert.FromBase64String(challenge)));
        Assert.Equal("535 5.7.8 Error: authentication failed: authentication failure", await h.CommandAsync(Answer(challenge, "alice", "wrong")));
        Assert.Contains(h.Log, l => l.Contains("SASL CRAM-MD5 authentication failed", StringComparison.Ordinal));

        challenge = (await h.CommandAsync("AUTH CRAM-MD5"))[4..];
        Assert.Equal("235 2.7.0 Authentication successful", await h.CommandAsync(Answer(challenge, "alice", "tanstaaftanstaaf")));
        Assert.Equal("503 5.5.1 Error: already authenticated", await h.CommandAsync("AUTH CRAM-MD5"));
    }

    [Fact]
    public async Task An_unknown_user_or_an_initial_response_fails()
    {
        await using var h = await SmtpHarness.StartAsync(Options(plaintext: true));
        await h.CommandAsync("EHLO c");
        string challenge = (await h.CommandAsync("AUTH CRAM-MD5"))[4..];
        Assert.Equal("535 5.7.8 Error: authentication failed: authentication failure", await h.CommandAsync(Answer(challenge, "mallory", "x")));
        Assert.Equal("535 5.7.8 Error: authentication failed: authentication failure", await h.CommandAsync("AUTH CRAM-MD5 " + Answer(challenge, "alice", "tanstaaftanstaaf")));
    }
}
