using Xunit;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Posthorn.Daemon.Tools;
using Posthorn.Logging;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>One self-signed server certificate for every TLS test (made the way `posthorn tls new-server-cert` makes it).</summary>
internal static class TestCertificate
{
    private static readonly Lazy<X509Certificate2> Lazy = new(() =>
    {
        var (cert, key) = TlsCommand.CreateSelfSigned("mail.example.test", DateTimeOffset.UtcNow);
        return X509Certificate2.CreateFromPem(cert, key);
    });

    public static X509Certificate2 Server => Lazy.Value;
}

/// <summary>Users alice/secret and bob/hunter2; counts calls.</summary>
internal sealed class TestAuthenticator : ISmtpAuthenticator
{
    private readonly Dictionary<string, string> _users = new() { ["alice"] = "secret", ["bob"] = "hunter2" };
    public int Calls { get; private set; }

    public ValueTask<SmtpAuthResult> AuthenticateAsync(string user, string password, CancellationToken ct)
    {
        Calls++;
        return ValueTask.FromResult(_users.TryGetValue(user, out var p) && p == password ? SmtpAuthResult.Success : SmtpAuthResult.Failure);
    }
}

/// <summary>Runs one <see cref="SmtpServerSession"/> over a real loopback TCP connection and plays the
/// client, with a client-side <see cref="SslStream"/> that accepts the test certificate.</summary>
internal sealed class LoopbackSmtp : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly TcpClient _client = new();
    private readonly CancellationTokenSource _shutdown = new();
    private Stream _stream = null!;
    private readonly List<byte> _pending = [];

    public RecordingSink Sink { get; } = new();
    public MemoryLogSink LogSink { get; } = new();
    public Task Session { get; private set; } = Task.CompletedTask;
    public SslStream? Tls { get; private set; }
    public IReadOnlyList<string> Log => LogSink.Lines;

    public static SmtpServerOptions TlsOptions => SmtpHarness.DefaultOptions with
    {
        TlsCertificate = TestCertificate.Server,
        TlsSecurityLevel = SmtpTlsSecurityLevel.May,
        TlsLogLevel = 1,
    };

    /// <summary>Connects; reads the greeting unless <paramref name="readGreeting"/> is false (wrapper mode).</summary>
    public static async Task<LoopbackSmtp> StartAsync(SmtpServerOptions options, bool readGreeting = true)
    {
        var s = new LoopbackSmtp();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accept = listener.AcceptSocketAsync();
        await s._client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var socket = await accept;
        s._stream = s._client.GetStream();
        var info = new SmtpSessionInfo { Client = (IPEndPoint)socket.RemoteEndPoint!, ClientName = "localhost" };
        var clock = new FixedClock(SmtpHarness.Now);
        var log = new MailLog(s.LogSink, "postfix", "mail.example.test", clock, pid: 4242);
        var session = new SmtpServerSession(new NetworkStream(socket, ownsSocket: true), info, options, s.Sink, log, clock);
        s.Session = Task.Run(() => session.RunAsync(s._shutdown.Token));
        if (readGreeting) Assert.Equal("220 mail.example.test ESMTP Posthorn", await s.ReadReplyAsync());
        return s;
    }

    /// <summary>The client's TLS handshake over the connection (after 220 to STARTTLS, or at once in wrapper mode).</summary>
    public async Task StartClientTlsAsync()
    {
        Assert.Empty(_pending);   // the server must send nothing between "220 Ready to start TLS" and the handshake
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: true);
        using var cts = new CancellationTokenSource(Patience);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "mail.example.test",
            RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == TestCertificate.Server.GetCertHashString(),
        }, cts.Token);
        _stream = ssl;
        Tls = ssl;
    }

    /// <summary>One client write.</summary>
    public async Task SendAsync(string text)
    {
        await _stream.WriteAsync(Encoding.UTF8.GetBytes(text));
        await _stream.FlushAsync();
    }

    public async Task<string> CommandAsync(string line)
    {
        await SendAsync(line + "\r\n");
        return await ReadReplyAsync();
    }

    /// <summary>Reads one whole reply; lines joined with LF, CRLF removed.</summary>
    public Task<string> ReadReplyAsync() => SmtpReplyAssembler.ReadAsync(ReadLineAsync);

    private async Task<string?> ReadLineAsync()
    {
        using var cts = new CancellationTokenSource(Patience);
        var buffer = new byte[4096];
        while (true)
        {
            int lf = _pending.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                string line = Encoding.UTF8.GetString(_pending.GetRange(0, lf).ToArray());
                _pending.RemoveRange(0, lf + 1);
                Assert.EndsWith("\r", line);
                return line[..^1];
            }
            int n;
            try { n = await _stream.ReadAsync(buffer, cts.Token); }
            catch (IOException) { n = 0; }
            if (n == 0) return null;
            _pending.AddRange(buffer.AsSpan(0, n));
        }
    }

    /// <summary>True when the server closed the connection with nothing more to say.</summary>
    public async Task<bool> ServerClosedAsync() => await ReadLineAsync() is null;

    public async Task FinishAsync() => await Session.WaitAsync(Patience);

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await Session.WaitAsync(Patience);
        _shutdown.Dispose();
    }
}
