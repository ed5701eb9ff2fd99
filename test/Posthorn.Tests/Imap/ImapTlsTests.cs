using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Security;
using Posthorn.Imap;
using Posthorn.Tests.Smtp;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>STARTTLS, STLS and implicit TLS for imapd and pop3d, with MailKit and a raw client over loopback.</summary>
public sealed class ImapTlsTests
{
    private static ImapSessionOptions TlsOptions(bool wrapper = false) => new()
    {
        MailboxCheckInterval = TimeSpan.FromMilliseconds(100),
        AuthFailureDelay = TimeSpan.Zero,
        TlsCertificate = TestCertificate.Server,
        TlsWrapperMode = wrapper,
    };

    private static readonly IPEndPoint Remote = new(IPAddress.Parse("192.0.2.7"), 40000);

    [Fact]
    public async Task MailKit_logs_in_after_STARTTLS_and_the_login_is_logged_as_TLS()
    {
        await using var server = new ImapTestServer(TlsOptions()) { FakeRemote = Remote };
        server.Deliver("Over TLS");
        using var client = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await client.ConnectAsync("127.0.0.1", server.ImapPort, SecureSocketOptions.StartTls);
        Assert.True(client.IsSecure);
        await client.AuthenticateAsync(new SaslMechanismPlain("alice", "secret"));
        await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal("Over TLS", (await client.Inbox.GetMessageAsync(0)).Subject);
        await client.DisconnectAsync(true);
        Assert.Contains(server.LogSink.Lines, l => l.Contains("Login: user=<alice>, method=PLAIN, rip=192.0.2.7, lip=127.0.0.1, TLS"));
    }

    /// <summary>Dovecot's failed-login line, the one fail2ban's dovecot filter matches: one line at disconnect,
    /// "imap-login: Disconnected (auth failed, N attempts in S secs): user=&lt;…&gt;, method=…, rip=…, lip=…, TLS".</summary>
    [Fact]
    public async Task Failed_logins_over_TLS_are_logged_once_at_disconnect_in_dovecots_shape()
    {
        await using var server = new ImapTestServer(TlsOptions()) { FakeRemote = Remote };
        using (var client = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true })
        {
            await client.ConnectAsync("127.0.0.1", server.ImapPort, SecureSocketOptions.StartTls);
            await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync(new SaslMechanismPlain("alice", "bad1")));
            await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync(new SaslMechanismPlain("mallory", "bad2")));
            await client.DisconnectAsync(true);
        }
        await ImapServerSessionTests.WaitAsync(() => server.LogSink.Lines.Any(l => l.Contains("auth failed", StringComparison.Ordinal)));
        string line = Assert.Single(server.LogSink.Lines, l => l.Contains("auth failed", StringComparison.Ordinal));
        Assert.Matches(@"^dovecot\[4242\]: imap-login: Disconnected \(auth failed, 2 attempts in \d+ secs\): "
            + @"user=<mallory>, method=PLAIN, rip=192\.0\.2\.7, lip=127\.0\.0\.1, TLS, session=<test>$", line);
    }

    [Fact]
    public async Task A_remote_client_sees_LOGINDISABLED_until_STARTTLS_and_then_may_log_in()
    {
        await using var server = new ImapTestServer(TlsOptions()) { FakeRemote = Remote };
        await using var raw = await RawLine.ConnectAsync(server.ImapPort);
        string greeting = await raw.ReadLineAsync();
        Assert.Contains(" STARTTLS ", greeting);
        Assert.Contains("LOGINDISABLED", greeting);
        Assert.DoesNotContain("AUTH=PLAIN", greeting);
        await raw.WriteAsync("a LOGIN alice secret\r\n");
        Assert.StartsWith("a NO [PRIVACYREQUIRED]", await raw.ReadLineAsync());
        await raw.WriteAsync("b STARTTLS\r\n");
        Assert.StartsWith("b OK", await raw.ReadLineAsync());
        await raw.StartTlsAsync();
        await raw.WriteAsync("c CAPABILITY\r\n");
        string caps = await raw.ReadLineAsync();
        Assert.Contains("AUTH=PLAIN", caps);
        Assert.DoesNotContain("LOGINDISABLED", caps);
        Assert.DoesNotContain("STARTTLS", caps);
        Assert.StartsWith("c OK", await raw.ReadLineAsync());
        await raw.WriteAsync("d STARTTLS\r\n");
        Assert.Equal("d BAD TLS is already active.", await raw.ReadLineAsync());
        await raw.WriteAsync("e LOGIN alice secret\r\n");
        Assert.StartsWith("e OK", await raw.ReadLineAsync());
    }

    [Fact]
    public async Task A_command_pipelined_after_STARTTLS_is_never_executed()
    {
        await using var server = new ImapTestServer(TlsOptions()) { FakeRemote = IPEndPoint.Parse("127.0.0.1:40000") };
        await using var raw = await RawLine.ConnectAsync(server.ImapPort);
        await raw.ReadLineAsync();
        // RFC 9051 §6.2.1 / the STARTTLS injection class: "b LOGIN" arrives in plain text with STARTTLS.
        await raw.WriteAsync("a STARTTLS\r\nb LOGIN alice secret\r\n");
        Assert.StartsWith("a OK", await raw.ReadLineAsync());
        bool tls = await raw.TryStartTlsAsync();
        if (tls)
        {
            await raw.WriteAsync("c NOOP\r\n");
            Assert.StartsWith("c OK", await raw.ReadLineAsync());   // no "b" reply came before it
        }
        Assert.DoesNotContain(server.LogSink.Lines, l => l.Contains("Login: user=<alice>"));
    }

    [Fact]
    public async Task A_failed_handshake_ends_the_session_and_is_logged()
    {
        await using var server = new ImapTestServer(TlsOptions()) { FakeRemote = Remote };
        await using var raw = await RawLine.ConnectAsync(server.ImapPort);
        await raw.ReadLineAsync();
        await raw.WriteAsync("a STARTTLS\r\n");
        Assert.StartsWith("a OK", await raw.ReadLineAsync());
        await raw.WriteAsync("this is not a TLS ClientHello\r\n\r\n");
        await ImapServerSessionTests.WaitAsync(() => server.LogSink.Lines.Any(l =>
            l.Contains("dovecot[4242]: imap-login: TLS handshaking failed: rip=192.0.2.7, lip=127.0.0.1: ")));
        await ImapServerSessionTests.WaitAsync(() => server.LogSink.Lines.Any(l =>
            l.Contains("dovecot[4242]: imap-login: Disconnected (no auth attempts in ")));
    }

    [Fact]
    public async Task Without_a_certificate_STARTTLS_is_not_offered_and_is_refused()
    {
        await using var server = new ImapTestServer();
        await using var raw = await RawLine.ConnectAsync(server.ImapPort);
        Assert.DoesNotContain("STARTTLS", await raw.ReadLineAsync());
        await raw.WriteAsync("a STARTTLS\r\n");
        Assert.Equal("a BAD TLS support isn't enabled.", await raw.ReadLineAsync());
    }

    [Fact]
    public async Task Imaps_wrapper_mode_with_MailKit_SslOnConnect()
    {
        await using var server = new ImapTestServer(TlsOptions(wrapper: true));
        server.Deliver("Implicit");
        using var client = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await client.ConnectAsync("127.0.0.1", server.ImapPort, SecureSocketOptions.SslOnConnect);
        Assert.True(client.IsSecure);
        Assert.DoesNotContain("STARTTLS", client.Capabilities.ToString());
        Assert.False(client.Capabilities.HasFlag(ImapCapabilities.StartTLS));
        await client.AuthenticateAsync("alice", "secret");
        await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(1, client.Inbox.Count);
        await client.DisconnectAsync(true);
    }

    [Fact]
    public async Task Pop3_STLS_with_MailKit_and_pop3s_wrapper_mode()
    {
        await using (var server = new ImapTestServer(TlsOptions()) { FakeRemote = Remote })
        {
            server.Deliver("Pop over TLS");
            using var client = new Pop3Client { ServerCertificateValidationCallback = (_, _, _, _) => true };
            await client.ConnectAsync("127.0.0.1", server.Pop3Port, SecureSocketOptions.StartTls);
            Assert.True(client.IsSecure);
            await client.AuthenticateAsync(new SaslMechanismPlain("alice", "secret"));
            Assert.Equal("Pop over TLS", (await client.GetMessageAsync(0)).Subject);
            await client.DisconnectAsync(true);
            Assert.Contains(server.LogSink.Lines, l => l.Contains("dovecot[4242]: pop3-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.7, lip=127.0.0.1, TLS"));
        }
        await using (var server = new ImapTestServer(TlsOptions(wrapper: true)))
        {
            using var client = new Pop3Client { ServerCertificateValidationCallback = (_, _, _, _) => true };
            await client.ConnectAsync("127.0.0.1", server.Pop3Port, SecureSocketOptions.SslOnConnect);
            Assert.True(client.IsSecure);
            await client.AuthenticateAsync("alice", "secret");
            Assert.Equal(0, client.Count);
            await client.DisconnectAsync(true);
        }
    }

    [Fact]
    public async Task Pop3_refuses_USER_from_a_remote_client_before_STLS()
    {
        await using var server = new ImapTestServer(TlsOptions()) { FakeRemote = Remote };
        await using var raw = await RawLine.ConnectAsync(server.Pop3Port);
        Assert.StartsWith("+OK", await raw.ReadLineAsync());
        await raw.WriteAsync("CAPA\r\n");
        var capa = new List<string>();
        for (string l = await raw.ReadLineAsync(); l != "."; l = await raw.ReadLineAsync()) capa.Add(l);
        Assert.Contains("STLS", capa);
        Assert.DoesNotContain("USER", capa);
        await raw.WriteAsync("USER alice\r\n");
        Assert.StartsWith("-ERR [AUTH]", await raw.ReadLineAsync());
        await raw.WriteAsync("STLS\r\n");
        Assert.StartsWith("+OK", await raw.ReadLineAsync());
        await raw.StartTlsAsync();
        await raw.WriteAsync("STLS\r\n");
        Assert.Equal("-ERR TLS is already active.", await raw.ReadLineAsync());
        await raw.WriteAsync("USER alice\r\nPASS secret\r\n");
        Assert.Equal("+OK", await raw.ReadLineAsync());
        Assert.StartsWith("+OK Logged in", await raw.ReadLineAsync());
    }
}

/// <summary>A line-based client over loopback that can switch to TLS (accepting the test certificate).</summary>
internal sealed class RawLine : IAsyncDisposable
{
    private readonly TcpClient _tcp = new();
    private Stream _stream = null!;
    private readonly List<byte> _pending = [];

    public static async Task<RawLine> ConnectAsync(int port)
    {
        var r = new RawLine();
        await r._tcp.ConnectAsync(IPAddress.Loopback, port);
        r._stream = r._tcp.GetStream();
        return r;
    }

    public async Task WriteAsync(string text)
    {
        await _stream.WriteAsync(Encoding.ASCII.GetBytes(text));
        await _stream.FlushAsync();
    }

    public async Task<string> ReadLineAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var buffer = new byte[4096];
        while (true)
        {
            int lf = _pending.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                string line = Encoding.UTF8.GetString(_pending.GetRange(0, lf).ToArray()).TrimEnd('\r');
                _pending.RemoveRange(0, lf + 1);
                return line;
            }
            int n = await _stream.ReadAsync(buffer, cts.Token);
            if (n == 0) throw new IOException("connection closed; pending: " + Encoding.UTF8.GetString(_pending.ToArray()));
            _pending.AddRange(buffer.AsSpan(0, n).ToArray());
        }
    }

    public async Task StartTlsAsync()
    {
        Assert.Empty(_pending);
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "mail.example.test" });
        _stream = ssl;
    }

    /// <summary>False when the server ended the connection instead of completing the handshake.</summary>
    public async Task<bool> TryStartTlsAsync()
    {
        try
        {
            await StartTlsAsync();
            return true;
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
