using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Posthorn.Logging;

namespace Posthorn.Tests.Outbound;

/// <summary>A real SMTP server on 127.0.0.1 that speaks a scripted dialogue and records what it receives.</summary>
/// <remarks>Each command line goes to <see cref="Reply"/>, which returns the reply lines (CRLF added) or
/// null to hang up. DATA content is collected until the lone dot and answered by <see cref="DataDone"/>.
/// With <see cref="Lmtp"/> it answers the final dot as an RFC 2033 server: one reply per accepted RCPT,
/// from <see cref="LmtpDataDone"/>. Given a socket path, it listens on that Unix-domain socket instead.</remarks>
internal sealed class LoopbackSmtpServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    public LoopbackSmtpServer(Func<string, string?>? reply = null, string greeting = "220 mx.test ESMTP", string? unixSocketPath = null)
    {
        Greeting = greeting;
        if (reply is not null) Reply = reply;
        if (unixSocketPath is null)
        {
            _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        }
        else
        {
            _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            _listener.Bind(new UnixDomainSocketEndPoint(unixSocketPath));
        }
        _listener.Listen(64);
        _accept = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>Answer the final dot with one reply per accepted recipient (RFC 2033 §4.2).</summary>
    public bool Lmtp { get; init; }
    /// <summary>LMTP: the reply for one accepted recipient (its RCPT address) after the final dot.</summary>
    public Func<string, string> LmtpDataDone { get; init; } = rcpt => $"250 2.0.0 <{rcpt}> Saved";
    /// <summary>Sessions accepted so far.</summary>
    public int Sessions => _sessions;
    private int _sessions;
    public string Greeting { get; init; }
    public Func<string, string?> Reply { get; init; } = DefaultReply;
    public Func<string, string> DataDone { get; init; } = _ => "250 2.0.0 Ok: queued as ABC123";
    /// <summary>Offer STARTTLS with a self-signed certificate (or <see cref="ServerCertificate"/>).</summary>
    public bool OfferTls { get; init; }
    /// <summary>The certificate (with its key) STARTTLS presents; null: a self-signed one for CN=mx.test.</summary>
    public X509Certificate2? ServerCertificate { get; init; }
    /// <summary>Offer CHUNKING (RFC 3030) and take BDAT chunks; each chunk's size and LAST flag go to <see cref="BdatChunks"/>.</summary>
    public bool OfferChunking { get; init; }
    /// <summary>The BDAT commands received with their sizes, e.g. "BDAT 15 LAST".</summary>
    public List<string> BdatChunks { get; } = [];

    /// <summary>Every command line received, in order (DATA content excluded).</summary>
    public List<string> Commands { get; } = [];
    /// <summary>Raw bytes of each DATA content, up to and including the final ".\r\n".</summary>
    public List<byte[]> Messages { get; } = [];
    /// <summary>How many reads returned command bytes: pipelined commands arrive in few reads.</summary>
    public List<int> CommandsPerRead { get; } = [];
    public bool TlsUsed { get; private set; }

    public static string? DefaultReply(string command) => Verb(command) switch
    {
        "EHLO" or "LHLO" => "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES",
        "HELO" => "250 mx.test",
        "MAIL" => "250 2.1.0 Ok",
        "RCPT" => "250 2.1.5 Ok",
        "DATA" => "354 End data with <CR><LF>.<CR><LF>",
        "RSET" => "250 2.0.0 Ok",
        "QUIT" => "221 2.0.0 Bye",
        _ => "502 5.5.2 Error: command not recognized",
    };

    public static string Verb(string command)
    {
        int sp = command.IndexOf(' ');
        var verb = (sp < 0 ? command : command[..sp]).ToUpperInvariant();
        return verb.StartsWith("MAIL", StringComparison.Ordinal) ? "MAIL" : verb.StartsWith("RCPT", StringComparison.Ordinal) ? "RCPT" : verb;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => SessionAsync(socket));
        }
    }

    private async Task SessionAsync(Socket socket)
    {
        using var _ = socket;
        Interlocked.Increment(ref _sessions);
        Stream stream = new NetworkStream(socket, ownsSocket: false);
        var accepted = new List<string>();
        var bdatContent = new MemoryStream();
        try
        {
            var io = new LineIo(stream);
            await io.WriteAsync(Greeting);
            if (!Greeting.StartsWith('2')) { /* the client should QUIT */ }
            while (true)
            {
                var (lines, _) = await io.ReadCommandsAsync(_stop.Token);
                if (lines is null) return;
                lock (CommandsPerRead) CommandsPerRead.Add(lines.Count);
                foreach (var line in lines)
                {
                    lock (Commands) Commands.Add(line);
                    string? reply = Reply(line);
                    if (Verb(line) == "EHLO" && OfferTls && !TlsUsed && reply is not null && reply.StartsWith("250", StringComparison.Ordinal))
                        reply = reply.Replace("250 ", "250-STARTTLS\r\n250 ", StringComparison.Ordinal);
                    if (Verb(line) is "EHLO" or "LHLO" && OfferChunking && reply is not null && reply.StartsWith("250", StringComparison.Ordinal))
                        reply = reply.Replace("250 ", "250-CHUNKING\r\n250 ", StringComparison.Ordinal);
                    if (Verb(line) == "BDAT" && OfferChunking)
                    {
                        // RFC 3030 §2: "BDAT" SP chunk-size [ SP end-marker ]; exactly chunk-size octets follow.
                        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                        bool lastChunk = parts.Length > 2 && parts[2].Equals("LAST", StringComparison.OrdinalIgnoreCase);
                        var chunk = await io.ReadExactAsync(int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), _stop.Token);
                        if (chunk is null) return;
                        lock (BdatChunks) BdatChunks.Add(line);
                        bdatContent.Write(chunk);
                        if (!lastChunk)
                        {
                            await io.WriteAsync($"250 2.0.0 Ok: {chunk.Length} octets received");
                            continue;
                        }
                        var content = bdatContent.ToArray();
                        bdatContent.SetLength(0);
                        lock (Messages) Messages.Add(content);
                        if (Lmtp)
                            foreach (var rcpt in accepted) await io.WriteAsync(LmtpDataDone(rcpt));
                        else
                            await io.WriteAsync(DataDone(Encoding.UTF8.GetString(content)));
                        continue;
                    }
                    if (Verb(line) == "STARTTLS" && OfferTls)
                    {
                        await io.WriteAsync("220 2.0.0 Ready to start TLS");
                        var ssl = new SslStream(stream);
                        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = ServerCertificate ?? Certificate.Value });
                        TlsUsed = true;
                        stream = ssl;
                        io = new LineIo(ssl);
                        break;
                    }
                    if (reply is null) return;
                    await io.WriteAsync(reply);
                    if (Verb(line) == "QUIT") return;
                    if (Verb(line) == "MAIL") accepted.Clear();
                    if (Verb(line) == "RCPT" && reply.StartsWith('2'))
                        accepted.Add(line[(line.IndexOf('<') + 1)..line.LastIndexOf('>')]);
                    if (Verb(line) == "DATA" && reply.StartsWith("354", StringComparison.Ordinal))
                    {
                        var content = await io.ReadDataAsync(_stop.Token);
                        if (content is null) return;
                        lock (Messages) Messages.Add(content);
                        if (Lmtp)
                            foreach (var rcpt in accepted) await io.WriteAsync(LmtpDataDone(rcpt));
                        else
                            await io.WriteAsync(DataDone(Encoding.UTF8.GetString(content)));
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException) { }
        finally { await stream.DisposeAsync(); }
    }

    private static readonly Lazy<X509Certificate2> Certificate = new(() =>
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=mx.test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    });

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accept;
        _stop.Dispose();
    }

    /// <summary>A port with nothing listening: bound, then closed (connection refused).</summary>
    public static int ClosedPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>Line reading over a stream with a carry-over buffer.</summary>
    private sealed class LineIo(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private readonly MemoryStream _pending = new();

        public async Task WriteAsync(string reply)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(reply + "\r\n"));
            await stream.FlushAsync();
        }

        /// <summary>The complete lines of the next read (several when pipelined); null at end of stream.</summary>
        public async Task<(List<string>?, int)> ReadCommandsAsync(CancellationToken ct)
        {
            while (true)
            {
                var lines = TakeLines(data: false);
                if (lines.Count > 0) return (lines, 0);
                int n = await stream.ReadAsync(_buffer, ct);
                if (n == 0) return (null, 0);
                _pending.Write(_buffer, 0, n);
            }
        }

        /// <summary>Exactly <paramref name="count"/> bytes (a BDAT chunk); null at end of stream.</summary>
        public async Task<byte[]?> ReadExactAsync(int count, CancellationToken ct)
        {
            while (_pending.Length < count)
            {
                int n = await stream.ReadAsync(_buffer, ct);
                if (n == 0) return null;
                _pending.Write(_buffer, 0, n);
            }
            var all = _pending.ToArray();
            _pending.SetLength(0);
            _pending.Write(all, count, all.Length - count);
            return all[..count];
        }

        public async Task<byte[]?> ReadDataAsync(CancellationToken ct)
        {
            while (true)
            {
                var all = _pending.ToArray();
                int end = IndexOfEnd(all);
                if (end >= 0)
                {
                    _pending.SetLength(0);
                    _pending.Write(all, end, all.Length - end);
                    return all[..end];
                }
                int n = await stream.ReadAsync(_buffer, ct);
                if (n == 0) return null;
                _pending.Write(_buffer, 0, n);
            }
        }

        private static int IndexOfEnd(byte[] all)
        {
            if (all.AsSpan().StartsWith(".\r\n"u8)) return 3;
            int i = all.AsSpan().IndexOf("\r\n.\r\n"u8);
            return i < 0 ? -1 : i + 5;
        }

        private List<string> TakeLines(bool data)
        {
            _ = data;
            var all = _pending.ToArray();
            var lines = new List<string>();
            int start = 0;
            int lf;
            while ((lf = Array.IndexOf(all, (byte)'\n', start)) >= 0)
            {
                lines.Add(Encoding.UTF8.GetString(all, start, lf - start).TrimEnd('\r'));
                start = lf + 1;
                if (lines[^1].Equals("DATA", StringComparison.OrdinalIgnoreCase) || lines[^1].Equals("STARTTLS", StringComparison.OrdinalIgnoreCase)
                    || lines[^1].StartsWith("BDAT ", StringComparison.OrdinalIgnoreCase)) break;
            }
            _pending.SetLength(0);
            _pending.Write(all, start, all.Length - start);
            return lines;
        }
    }
}

/// <summary>Collects MailLog lines.</summary>
internal sealed class ListLogSink : IMailLogSink
{
    public List<string> Lines { get; } = [];
    public void Write(in MailLogEntry entry)
    {
        lock (Lines) Lines.Add(entry.Text);
    }
}
