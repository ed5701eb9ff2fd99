using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Posthorn.Daemon.Policy;

/// <summary>The client side of Postfix's policy delegation protocol (SMTPD_POLICY_README): sends one
/// <c>name=value</c> request and reads the <c>action=…</c> answer, keeping the connection for later requests.</summary>
/// <remarks>
/// Postfix SMTPD_POLICY_README: "The Postfix SMTP server ... maintains a connection to the policy server across
/// multiple requests"; postconf(5) smtpd_policy_service_max_idle: "The time after which an idle SMTPD policy service
/// connection is closed"; smtpd_policy_service_max_ttl: "The time after which an active SMTPD policy service
/// connection is closed". One instance serves every session of one configuration snapshot, so a connection
/// outlives the SMTP session that opened it. A connection is used by one request at a time.
/// Security: the answer is bounded (<see cref="MaxReply"/>) and comes from a trusted, configured server.
/// Parameters: smtpd_policy_service_max_idle, smtpd_policy_service_max_ttl.
/// </remarks>
public sealed class PolicyClient(TimeProvider clock, TimeSpan maxIdle, TimeSpan maxTtl)
{
    /// <summary>An answer may be at most this long (Postfix attr_scan limits one attribute line).</summary>
    public const int MaxReply = 4096;

    private sealed class Connection(Socket socket, long opened)
    {
        public Socket Socket { get; } = socket;
        public long Opened { get; } = opened;
        public long LastUsed { get; set; } = opened;
        public ITimer? IdleTimer { get; set; }
    }

    private readonly Dictionary<string, Stack<Connection>> _idle = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Connections opened so far (for tests and diagnostics).</summary>
    public int ConnectionsOpened => Volatile.Read(ref _opened);
    private int _opened;

    /// <summary>Sends <paramref name="request"/> (attribute lines and the empty line) to <c>inet:host:port</c>,
    /// <c>host:port</c> or <c>unix:/path</c>; returns the action, or null when the answer has none.</summary>
    /// <remarks>A kept connection that the server has closed meanwhile fails on first use; the request is then
    /// sent once more over a new connection.</remarks>
    /// <exception cref="IOException">The server closed the connection or could not be reached.</exception>
    /// <exception cref="FormatException">Bad server address or an overlong answer.</exception>
    public async Task<string?> QueryAsync(string server, string request, CancellationToken ct)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(request);
        if (TakeIdle(server) is { } kept)
        {
            try
            {
                return await ExchangeAsync(server, kept, bytes, ct);
            }
            catch (Exception e) when (e is IOException or SocketException && !ct.IsCancellationRequested)
            {
                // The server closed the idle connection: try again on a fresh one.
            }
        }
        var fresh = await ConnectAsync(server, ct);
        return await ExchangeAsync(server, fresh, bytes, ct);
    }

    private async Task<string?> ExchangeAsync(string server, Connection c, byte[] request, CancellationToken ct)
    {
        bool ok = false;
        try
        {
            await c.Socket.SendAsync(request, SocketFlags.None, ct);
            string? action = await ReadAnswerAsync(c.Socket, ct);
            ok = true;
            return action;
        }
        finally
        {
            if (ok) Return(server, c);
            else c.Socket.Dispose();
        }
    }

    private static async Task<string?> ReadAnswerAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[MaxReply];
        int filled = 0;
        while (true)
        {
            int end = buffer.AsSpan(0, filled).IndexOf("\n\n"u8);
            if (end >= 0)
            {
                if (end + 2 != filled) throw new FormatException("policy service sent more than one answer");
                foreach (string line in Encoding.UTF8.GetString(buffer, 0, end).Split('\n'))
                {
                    if (line.StartsWith("action=", StringComparison.OrdinalIgnoreCase))
                        return line[7..].TrimEnd('\r');
                }
                return null;
            }
            if (filled == buffer.Length)
                throw new FormatException("policy service answer too long");
            int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, ct);
            if (n == 0)
                throw new IOException("connection closed before the end of the answer");
            filled += n;
        }
    }

    /// <summary>An idle connection to <paramref name="server"/> within max_idle and max_ttl, or null.</summary>
    private Connection? TakeIdle(string server)
    {
        lock (_lock)
        {
            if (!_idle.TryGetValue(server, out var stack)) return null;
            while (stack.TryPop(out var c))
            {
                c.IdleTimer?.Dispose();
                if (IsFresh(c)) return c;
                c.Socket.Dispose();
            }
            return null;
        }
    }

    private bool IsFresh(Connection c) =>
        clock.GetElapsedTime(c.LastUsed) < maxIdle && clock.GetElapsedTime(c.Opened) < maxTtl;

    /// <summary>Keeps a connection that finished its request, unless it is past max_ttl; closes it after max_idle.</summary>
    private void Return(string server, Connection c)
    {
        c.LastUsed = clock.GetTimestamp();
        if (clock.GetElapsedTime(c.Opened) >= maxTtl || maxIdle <= TimeSpan.Zero)
        {
            c.Socket.Dispose();
            return;
        }
        lock (_lock)
        {
            if (!_idle.TryGetValue(server, out var stack)) _idle[server] = stack = new Stack<Connection>();
            stack.Push(c);
            c.IdleTimer = clock.CreateTimer(_ => CloseIdle(server, c), null, maxIdle, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>smtpd_policy_service_max_idle ran out: the connection is closed if it is still idle.</summary>
    private void CloseIdle(string server, Connection c)
    {
        lock (_lock)
        {
            if (!_idle.TryGetValue(server, out var stack) || !stack.Contains(c)) return;
            _idle[server] = new Stack<Connection>(stack.Where(x => x != c).Reverse());
        }
        c.IdleTimer?.Dispose();
        c.Socket.Dispose();
    }

    private async Task<Connection> ConnectAsync(string server, CancellationToken ct)
    {
        EndPoint endPoint;
        if (server.StartsWith("unix:", StringComparison.Ordinal))
        {
            endPoint = new UnixDomainSocketEndPoint(server[5..]);
        }
        else
        {
            string hostPort = server.StartsWith("inet:", StringComparison.Ordinal) ? server[5..] : server;
            int colon = hostPort.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(hostPort[(colon + 1)..], out int port))
                throw new FormatException($"bad policy service address: {server}");
            string host = hostPort[..colon].Trim('[', ']');
            endPoint = IPAddress.TryParse(host, out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
        }
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, ct);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        Interlocked.Increment(ref _opened);
        return new Connection(socket, clock.GetTimestamp());
    }
}
