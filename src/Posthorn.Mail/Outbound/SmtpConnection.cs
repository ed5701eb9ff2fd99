using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace Posthorn.Mail.Outbound;

/// <summary>Why a session ended early; the text is the tail of Postfix's sentence
/// ("lost connection with X while …", "conversation with X timed out while …").</summary>
internal sealed class SmtpSessionException(SmtpSessionFailure kind, string message) : Exception(message)
{
    public SmtpSessionFailure Kind { get; } = kind;
}

internal enum SmtpSessionFailure { Lost, Timeout, Malformed, Tls }

/// <summary>One TCP (or, for LMTP, Unix-domain) connection to an SMTP server: bounded reply reading and command writing over pipelines (STYLE C8).</summary>
internal sealed class SmtpConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _network;
    private readonly SmtpClientOptions _options;
    private readonly TimeProvider _clock;
    private Stream _stream;
    private PipeReader _reader;
    private PipeWriter _writer;

    private SmtpConnection(Socket socket, SmtpClientOptions options, TimeProvider clock)
    {
        _socket = socket;
        _options = options;
        _clock = clock;
        _network = new NetworkStream(socket, ownsSocket: true);
        _stream = _network;
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        _writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public SmtpServerAddress Server { get; private init; } = null!;

    public PipeWriter Writer => _writer;

    /// <summary>Handed to the <see cref="SmtpConnectionCache"/>: the delivery that opened it must not close it.</summary>
    public bool Cached { get; set; }

    public SslStream? Tls => _stream as SslStream;

    /// <exception cref="SocketException">Connection refused, unreachable, …</exception>
    /// <exception cref="TimeoutException">smtp_connect_timeout passed.</exception>
    public static async Task<SmtpConnection> ConnectAsync(SmtpServerAddress server, SmtpClientOptions options, TimeProvider clock, CancellationToken ct)
    {
        bool unix = server.SocketPath is not null;
        var socket = unix
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(server.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (!unix && options.BindAddress is { } bind && bind.AddressFamily == server.Address.AddressFamily)
                socket.Bind(new System.Net.IPEndPoint(bind, 0));
            using var timeout = new CancellationTokenSource(options.ConnectTimeout, clock);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
            System.Net.EndPoint endPoint = unix
                ? new UnixDomainSocketEndPoint(server.SocketPath!)
                : new System.Net.IPEndPoint(server.Address, server.Port);
            try
            {
                await socket.ConnectAsync(endPoint, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException("Connection timed out");
            }
            return new SmtpConnection(socket, options, clock) { Server = server };
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads one reply, bounded by <paramref name="timeout"/>, the line length and the line count limits.</summary>
    public async Task<ServerReply> ReadReplyAsync(TimeSpan timeout, string stage, CancellationToken ct)
    {
        var lines = new List<string>();
        int code = 0;
        using var cts = Timeout(timeout, ct, out var token);
        while (true)
        {
            ReadResult read;
            try
            {
                read = await _reader.ReadAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new SmtpSessionException(SmtpSessionFailure.Timeout, stage);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                throw new SmtpSessionException(SmtpSessionFailure.Lost, stage);
            }
            var buffer = read.Buffer;
            while (buffer.PositionOf((byte)'\n') is { } eol)
            {
                var line = buffer.Slice(0, eol);
                buffer = buffer.Slice(buffer.GetPosition(1, eol));
                if (line.Length > _options.ReplyLineLimit) Fail(SmtpSessionFailure.Malformed, stage);
                var bytes = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
                if (bytes.Length > 0 && bytes[^1] == (byte)'\r') bytes = bytes[..^1];
                if (!ServerReply.TryParseLine(bytes, out int lineCode, out bool last) || (lines.Count > 0 && lineCode != code))
                    Fail(SmtpSessionFailure.Malformed, stage);
                code = lineCode;
                lines.Add(ServerReply.Decode(line));
                if (last)
                {
                    _reader.AdvanceTo(buffer.Start);
                    return new ServerReply(code, lines);
                }
                if (lines.Count >= _options.ReplyLineCountLimit) Fail(SmtpSessionFailure.Malformed, stage);
            }
            // STYLE C7: a partial line longer than the limit is refused before more is buffered.
            if (buffer.Length > _options.ReplyLineLimit) Fail(SmtpSessionFailure.Malformed, stage);
            if (read.IsCompleted) throw new SmtpSessionException(SmtpSessionFailure.Lost, stage);
            _reader.AdvanceTo(buffer.Start, buffer.End);
        }

        // The connection is abandoned after a failure: no AdvanceTo needed.
        static void Fail(SmtpSessionFailure kind, string s) => throw new SmtpSessionException(kind, s);
    }

    /// <summary>Queues a command line (CRLF added); nothing is sent until <see cref="FlushAsync"/>.</summary>
    public void Write(string command)
    {
        int n = Encoding.UTF8.GetByteCount(command);
        var span = _writer.GetSpan(n + 2);
        Encoding.UTF8.GetBytes(command, span);
        span[n] = (byte)'\r';
        span[n + 1] = (byte)'\n';
        _writer.Advance(n + 2);
    }

    public async Task FlushAsync(TimeSpan timeout, string stage, CancellationToken ct)
    {
        using var cts = Timeout(timeout, ct, out var token);
        try
        {
            var result = await _writer.FlushAsync(token).ConfigureAwait(false);
            if (result.IsCanceled || result.IsCompleted) throw new SmtpSessionException(SmtpSessionFailure.Lost, stage);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new SmtpSessionException(SmtpSessionFailure.Timeout, stage);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            throw new SmtpSessionException(SmtpSessionFailure.Lost, stage);
        }
    }

    /// <summary>The certificates the server sent besides its own (for <see cref="SmtpTlsVerifier"/>).</summary>
    public IReadOnlyList<System.Security.Cryptography.X509Certificates.X509Certificate2> PeerIntermediates { get; private set; } = [];

    /// <summary>RFC 3207 §4.2: after 220 to STARTTLS, everything read before is discarded and the
    /// session continues over TLS. The handshake accepts any certificate; the caller decides what it trusts
    /// (<see cref="SmtpTlsVerifier"/>), as Postfix completes the handshake and then checks.</summary>
    public async Task StartTlsAsync(string targetHost, CancellationToken ct)
    {
        var intermediates = new List<System.Security.Cryptography.X509Certificates.X509Certificate2>();
        await _reader.CompleteAsync().ConfigureAwait(false);
        await _writer.CompleteAsync().ConfigureAwait(false);
        var ssl = new SslStream(_network, leaveInnerStreamOpen: true);
        _stream = ssl;
        using var cts = Timeout(_options.StartTlsTimeout, ct, out var token);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = targetHost,
                RemoteCertificateValidationCallback = (_, _, chain, _) =>
                {
                    // Copies: the chain and its store are disposed when the callback returns.
                    if (chain is not null)
                        foreach (var c in chain.ChainPolicy.ExtraStore)
                            intermediates.Add(System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(c.RawData));
                    return true;
                },
            }, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new SmtpSessionException(SmtpSessionFailure.Timeout, "performing the TLS handshake");
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException)
        {
            throw new SmtpSessionException(SmtpSessionFailure.Tls, e.Message);
        }
        PeerIntermediates = intermediates;
        _reader = PipeReader.Create(ssl, new StreamPipeReaderOptions(leaveOpen: true));
        _writer = PipeWriter.Create(ssl, new StreamPipeWriterOptions(leaveOpen: true));
    }

    private TimeoutScope Timeout(TimeSpan timeout, CancellationToken ct, out CancellationToken token)
    {
        var scope = new TimeoutScope(timeout, _clock, ct);
        token = scope.Token;
        return scope;
    }

    /// <summary>A token cancelled by the caller or after <c>timeout</c> on the injected clock (STYLE C9, C14).</summary>
    private sealed class TimeoutScope(TimeSpan timeout, TimeProvider clock, CancellationToken ct) : IDisposable
    {
        private readonly CancellationTokenSource _timer = new(timeout, clock);
        private CancellationTokenSource? _linked;

        public CancellationToken Token => (_linked ??= CancellationTokenSource.CreateLinkedTokenSource(ct, _timer.Token)).Token;

        public void Dispose()
        {
            _linked?.Dispose();
            _timer.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { await _reader.CompleteAsync().ConfigureAwait(false); } catch (InvalidOperationException) { }
        try { await _writer.CompleteAsync().ConfigureAwait(false); } catch (Exception e) when (e is IOException or InvalidOperationException) { }
        if (_stream is SslStream ssl) await ssl.DisposeAsync().ConfigureAwait(false);
        await _network.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}
