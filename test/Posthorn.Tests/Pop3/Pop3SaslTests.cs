using System.Net.Sockets;
using System.Text;
using MailKit.Net.Pop3;
using MailKit.Security;
using Posthorn.Tests.Imap;
using Xunit;

namespace Posthorn.Tests.Pop3;

/// <summary>POP3 AUTH (RFC 5034): PLAIN, SCRAM-SHA-1 and SCRAM-SHA-256, with MailKit and on the wire.</summary>
public sealed class Pop3SaslTests
{
    private static async Task<Pop3Client> ConnectAsync(ImapTestServer server)
    {
        var client = new Pop3Client();
        await client.ConnectAsync("127.0.0.1", server.Pop3Port, SecureSocketOptions.None);
        return client;
    }

    [Theory]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-1")]
    [InlineData("PLAIN")]
    public async Task MailKit_logs_in_with_each_offered_mechanism(string mechanism)
    {
        await using var server = new ImapTestServer();
        server.Deliver("sasl");
        using var client = await ConnectAsync(server);
        Assert.Contains(mechanism, client.AuthenticationMechanisms);
        SaslMechanism sasl = mechanism switch
        {
            "SCRAM-SHA-256" => new SaslMechanismScramSha256("alice", "secret"),
            "SCRAM-SHA-1" => new SaslMechanismScramSha1("alice", "secret"),
            _ => new SaslMechanismPlain("alice", "secret"),
        };
        await client.AuthenticateAsync(sasl);
        Assert.Equal(1, client.Count);
        Assert.Equal("sasl", (await client.GetMessageAsync(0)).Subject);
        await client.DisconnectAsync(true);
        Assert.Contains(server.LogSink.Lines, l => l.Contains($"dovecot[4242]: pop3-login: Login: user=<alice>, method={mechanism}, rip=127.0.0.1"));
    }

    [Fact]
    public async Task A_wrong_scram_password_fails_and_is_logged_in_dovecots_shape()
    {
        await using var server = new ImapTestServer();
        using var client = await ConnectAsync(server);
        await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync(new SaslMechanismScramSha256("alice", "wrong")));
        await client.DisconnectAsync(true);
        await ImapServerSessionTests.WaitAsync(() => server.LogSink.Lines.Any(l => l.Contains(
            "dovecot[4242]: pop3-login: Disconnected (auth failed, 1 attempts in ") && l.Contains("user=<alice>, method=SCRAM-SHA-256, rip=127.0.0.1, lip=127.0.0.1")));
        using var again = await ConnectAsync(server);
        await again.AuthenticateAsync(new SaslMechanismScramSha256("alice", "secret"));
        Assert.True(again.IsAuthenticated);
    }

    [Fact]
    public async Task Capa_lists_sasl_and_a_cancelled_or_garbled_exchange_gets_err()
    {
        await using var server = new ImapTestServer();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.Pop3Port);
        var stream = tcp.GetStream();
        var reader = new StreamReader(stream, Encoding.ASCII);
        Assert.StartsWith("+OK", await reader.ReadLineAsync());
        async Task<string> Send(string line)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"));
            return (await reader.ReadLineAsync())!;
        }
        Assert.StartsWith("+OK", await Send("CAPA"));
        var capa = new List<string>();
        while (await reader.ReadLineAsync() is { } l && l != ".") capa.Add(l);
        Assert.Contains("SASL PLAIN SCRAM-SHA-256 SCRAM-SHA-1", capa);
        Assert.Equal("+ ", await Send("AUTH SCRAM-SHA-256"));
        Assert.StartsWith("-ERR", await Send("*"));
        Assert.StartsWith("-ERR", await Send("AUTH PLAIN !!notbase64"));
        Assert.StartsWith("-ERR Unsupported", await Send("AUTH CRAM-MD5"));
        string plain = Convert.ToBase64String(Encoding.UTF8.GetBytes("\0alice\0secret"));
        Assert.StartsWith("+OK Logged in", await Send("AUTH PLAIN " + plain));
        Assert.StartsWith("+OK", await Send("QUIT"));
    }
}
