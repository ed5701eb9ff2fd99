using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>A remote "SMTP server" on 127.0.0.1 that the daemon's smtp(8) client delivers to, scripted per
/// connection to misbehave: a raw <see cref="TcpListener"/>, each accepted connection handed to
/// <see cref="Script"/> with its 1-based session number.</summary>
/// <remarks><see cref="AcceptAsync"/> is a well-behaved plain SMTP dialogue for the sessions that should succeed.
/// <see cref="ClientHungUp"/> records that a write failed because the daemon closed the connection: proof that
/// it stopped reading rather than waiting for the end of an endless reply.</remarks>
public sealed class HostileRemote : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _sessions = [];
    private readonly Task _accept;
    private readonly List<string> _commands = [];
    private int _sessionCount;
    private volatile bool _hungUp;

    public HostileRemote(Func<int, NetworkStream, HostileRemote, Task> script)
    {
        Script = script;
        _listener.Start();
        _accept = AcceptLoopAsync();
    }

    public Func<int, NetworkStream, HostileRemote, Task> Script { get; }
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public int Sessions => Volatile.Read(ref _sessionCount);
    public bool ClientHungUp => _hungUp;
    public CancellationToken Stopping => _stop.Token;

    /// <summary>Command lines received by <see cref="AcceptAsync"/>, prefixed with the session number ("2 MAIL FROM:…").</summary>
    public IReadOnlyList<string> Commands
    {
        get { lock (_commands) return [.. _commands]; }
    }

    /// <summary>Writes <paramref name="text"/>; false (and <see cref="ClientHungUp"/>) when the daemon has closed the connection.</summary>
    public async Task<bool> TryWriteAsync(NetworkStream stream, string text)
    {
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(text), _stop.Token);
            return true;
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            _hungUp = true;
            return false;
        }
    }

    /// <summary>A plain, correct SMTP server dialogue that accepts every message
    /// ("250 2.0.0 Ok: queued as HOSTILE&lt;session&gt;"); EHLO advertises STARTTLS when <paramref name="offerStartTls"/>.</summary>
    public async Task AcceptAsync(int session, NetworkStream stream, bool offerStartTls, bool greet = true)
    {
        using var reader = new StreamReader(stream, Encoding.ASCII, false, 4096, leaveOpen: true);
        if (greet && !await TryWriteAsync(stream, "220 hostile.test ESMTP\r\n")) return;
        bool data = false;
        while (await reader.ReadLineAsync(_stop.Token) is { } line)
        {
            if (data)
            {
                if (line == ".")
                {
                    data = false;
                    if (!await TryWriteAsync(stream, $"250 2.0.0 Ok: queued as HOSTILE{session}\r\n")) return;
                }
                continue;
            }
            lock (_commands) _commands.Add($"{session} {line}");
            string verb = line.Split(' ')[0].ToUpperInvariant();
            string reply = verb switch
            {
                "EHLO" => offerStartTls ? "250-hostile.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n" : "250-hostile.test\r\n250 8BITMIME\r\n",
                "HELO" => "250 hostile.test\r\n",
                "DATA" => "354 End data with <CR><LF>.<CR><LF>\r\n",
                "QUIT" => "221 2.0.0 Bye\r\n",
                _ => "250 2.0.0 Ok\r\n",
            };
            data = verb == "DATA";
            if (!await TryWriteAsync(stream, reply) || verb == "QUIT") return;
        }
    }

    /// <summary>Records one command line (for scripts that read their own).</summary>
    public void Record(int session, string line)
    {
        lock (_commands) _commands.Add($"{session} {line}");
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            int n = Interlocked.Increment(ref _sessionCount);
            lock (_sessions) _sessions.Add(RunSessionAsync(client, n));
        }
    }

    private async Task RunSessionAsync(TcpClient client, int n)
    {
        using (client)
        {
            try
            {
                await Script(n, client.GetStream(), this);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The daemon hung up or the test is over: both end the session.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Task[] sessions;
        lock (_sessions) sessions = [.. _sessions];
        await Task.WhenAll(sessions.Append(_accept));
        _stop.Dispose();
    }
}
