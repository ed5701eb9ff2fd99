using System.Net;
using System.Net.Sockets;
using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>A server that offers STARTTLS, says 220 to it and then breaks the handshake: Postfix TLS_README
/// levels may (retry in plaintext) and encrypt (defer with 4.7.5 "Cannot start TLS: handshake failure").</summary>
public sealed class SmtpTransportTlsFailureTests
{
    private readonly ListLogSink _sink = new();

    private async Task<OutboundDeliveryResult> DeliverAsync(SmtpTlsLevel level, int port)
    {
        var transport = new SmtpTransport(new SmtpClientOptions { HeloName = "client.test", TlsLevel = level, ConnectTimeout = TimeSpan.FromSeconds(5) },
            new NextHopResolver(new LiteralOnly(), new HostLookupOptions(), new Random(1)),
            new MailLog(_sink, "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System);
        var bytes = "Subject: x\n\nhi\n"u8.ToArray();
        var message = new OutboundMessage(new QueueId("ABCDEF123456"), SmtpPath.FromAddress("a@client.test"), bytes.Length, () => new MemoryStream(bytes));
        return await transport.DeliverAsync(new NextHop("127.0.0.1", port, SkipMx: true), message, [new OutboundRecipient("b@remote.test")], CancellationToken.None);
    }

    /// <summary>Every session: 220, EHLO offers STARTTLS; STARTTLS gets 220 and then plain text instead of a
    /// ServerHello. Counts the sessions and whether any MAIL command arrived.</summary>
    private sealed class BrokenTlsServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        public int Sessions;
        public volatile bool SawMail;

        public BrokenTlsServer()
        {
            _listener.Start();
            _loop = LoopAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        private async Task LoopAsync()
        {
            try
            {
                while (true)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    Interlocked.Increment(ref Sessions);
                    var s = client.GetStream();
                    using var reader = new StreamReader(s, Encoding.ASCII, false, 1024, leaveOpen: true);
                    await s.WriteAsync("220 mx.test ESMTP\r\n"u8.ToArray(), _stop.Token);
                    bool data = false;
                    while (await reader.ReadLineAsync(_stop.Token) is { } line)
                    {
                        if (data && line != ".") continue;
                        data = false;
                        string verb = line.Split(' ')[0].ToUpperInvariant();
                        SawMail |= verb == "MAIL";
                        string reply = verb switch
                        {
                            "EHLO" => "250-mx.test\r\n250 STARTTLS\r\n",
                            "STARTTLS" => "220 2.0.0 Ready to start TLS\r\nthis is no TLS server hello\r\n",
                            "DATA" => "354 go\r\n",
                            "QUIT" => "221 Bye\r\n",
                            "." => "250 2.0.0 Ok: queued as PLAIN1\r\n",
                            _ => "250 Ok\r\n",
                        };
                        await s.WriteAsync(Encoding.ASCII.GetBytes(reply), _stop.Token);
                        data = verb == "DATA";
                        if (verb is "STARTTLS" or "QUIT") break;
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // Stopped, or the client hung up mid-session: the test looks at what was recorded.
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _loop;
        }
    }

    [Fact]
    public async Task Encrypt_defers_with_4_7_5_cannot_start_tls_and_never_sends_in_plaintext()
    {
        await using var server = new BrokenTlsServer();
        var result = await DeliverAsync(SmtpTlsLevel.Encrypt, server.Port);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Equal("4.7.5", r.Dsn.ToString());
        Assert.Equal("Cannot start TLS: handshake failure", r.Text);
        Assert.Equal($"127.0.0.1[127.0.0.1]:{server.Port}", r.Relay);
        Assert.Equal(1, server.Sessions);
        Assert.False(server.SawMail);
        Assert.Contains(_sink.Lines, l => l.StartsWith($"SSL_connect error to 127.0.0.1[127.0.0.1]:{server.Port}: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task May_falls_back_to_plaintext_on_a_new_connection_and_is_sent()
    {
        await using var server = new BrokenTlsServer();
        var result = await DeliverAsync(SmtpTlsLevel.May, server.Port);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Sent, r.Outcome);
        Assert.Equal(2, server.Sessions);
        Assert.True(server.SawMail);
        Assert.Contains(_sink.Lines, l => l.Contains("trying again without TLS", StringComparison.Ordinal));
        Assert.DoesNotContain(_sink.Lines, l => l.Contains(".; trying again", StringComparison.Ordinal));
    }

    /// <summary>The next hop is an IP literal: any DNS query is a test failure.</summary>
    private sealed class LiteralOnly : IDnsResolver
    {
        public ValueTask<DnsAnswer<MxRecord>> LookupMxAsync(string domain, CancellationToken ct) => throw new InvalidOperationException(domain);
        public ValueTask<DnsAnswer<IPAddress>> LookupAAsync(string host, CancellationToken ct) => throw new InvalidOperationException(host);
        public ValueTask<DnsAnswer<IPAddress>> LookupAaaaAsync(string host, CancellationToken ct) => throw new InvalidOperationException(host);
    }
}
