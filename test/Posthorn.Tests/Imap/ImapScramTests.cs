using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using Posthorn.Sasl;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>AUTHENTICATE SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, RFC 7677) in imapd, driven by MailKit.</summary>
public sealed class ImapScramTests
{
    private static string PasswdOf(ImapTestServer server) => Path.GetFullPath(Path.Combine(server.Maildir, "..", "..", "passwd"));

    /// <summary>Replaces the passwd-file (alice, home as the server set it) and makes sure the reader sees a new file.</summary>
    private static void WritePasswd(ImapTestServer server, string password)
    {
        string path = PasswdOf(server);
        string home = Path.GetDirectoryName(server.Maildir)!;
        File.WriteAllText(path, $"alice:{password}:1000:1000::{home}::\n");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
    }

    private static async Task<ImapClient> ConnectAsync(ImapTestServer server)
    {
        var client = new ImapClient();
        await client.ConnectAsync("127.0.0.1", server.ImapPort, SecureSocketOptions.None);
        return client;
    }

    [Theory]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-1")]
    public async Task MailKit_logs_in_with_scram_derived_from_a_plaintext_password(string mechanism)
    {
        await using var server = new ImapTestServer();
        server.Deliver("scram");
        using var client = await ConnectAsync(server);
        Assert.Contains(mechanism, client.AuthenticationMechanisms);
        SaslMechanism sasl = mechanism == "SCRAM-SHA-256"
            ? new SaslMechanismScramSha256("alice", "secret") : new SaslMechanismScramSha1("alice", "secret");
        await client.AuthenticateAsync(sasl);
        Assert.True(sasl.IsAuthenticated);
        await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(1, client.Inbox.Count);
        await client.DisconnectAsync(true);
        await ImapServerSessionTests.WaitAsync(() =>
            server.LogSink.Lines.Any(l => l.Contains($"Login: user=<alice>, method={mechanism}", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_wrong_password_fails_the_exchange_and_is_logged_in_dovecots_shape()
    {
        await using var server = new ImapTestServer();
        using var client = await ConnectAsync(server);
        await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync(new SaslMechanismScramSha256("alice", "wrong")));
        await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync(new SaslMechanismScramSha256("nobody", "secret")));
        // The connection is still usable: the right password works afterwards.
        using (var second = await ConnectAsync(server))
        {
            await Assert.ThrowsAsync<AuthenticationException>(() => second.AuthenticateAsync(new SaslMechanismScramSha1("alice", "wrong")));
            await second.AuthenticateAsync(new SaslMechanismScramSha256("alice", "secret"));
            Assert.True(second.IsAuthenticated);
            await second.DisconnectAsync(true);
        }
        // One line at disconnect, with the last user and method tried (Dovecot's shape, for fail2ban).
        await client.DisconnectAsync(true);
        await ImapServerSessionTests.WaitAsync(() => server.LogSink.Lines.Any(l =>
            l.Contains("dovecot[4242]: imap-login: Disconnected (auth failed, 2 attempts in ", StringComparison.Ordinal)
            && l.Contains("user=<nobody>, method=SCRAM-SHA-256, rip=127.0.0.1, lip=127.0.0.1", StringComparison.Ordinal)));
        Assert.Single(server.LogSink.Lines, l => l.Contains("auth failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Stored_scram_sha256_credentials_offer_only_that_mechanism_and_hashed_passwords_offer_none()
    {
        await using var server = new ImapTestServer();
        var stored = ScramCredentials.FromPassword(ScramHash.Sha256, "secret", [1, 2, 3, 4, 5, 6, 7, 8]);
        WritePasswd(server, "{SCRAM-SHA-256}" + stored);
        using (var client = await ConnectAsync(server))
        {
            Assert.Contains("SCRAM-SHA-256", client.AuthenticationMechanisms);
            Assert.DoesNotContain("SCRAM-SHA-1", client.AuthenticationMechanisms);
            await client.AuthenticateAsync(new SaslMechanismScramSha256("alice", "secret"));
            Assert.True(client.IsAuthenticated);
            await client.DisconnectAsync(true);
        }

        WritePasswd(server, "{SHA512-CRYPT}$6$abcdefgh$notarealhashnotarealhashnotarealhash");
        using var again = await ConnectAsync(server);
        Assert.DoesNotContain("SCRAM-SHA-256", again.AuthenticationMechanisms);
        Assert.DoesNotContain("SCRAM-SHA-1", again.AuthenticationMechanisms);
    }
}
