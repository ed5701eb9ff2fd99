using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>Picks loopback TCP ports for daemons under test.</summary>
/// <remarks>
/// Ports come from below the kernel's ephemeral range (net.ipv4.ip_local_port_range), so an
/// outgoing client connection of a parallel test can never be handed the same number between
/// the moment we probe a port and the moment the daemon binds it. Each port is handed out once
/// per test run; the probe binds it to prove nobody else holds it right now.
/// </remarks>
public static class FreePort
{
    private static readonly object Gate = new();
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>The lowest ephemeral port of this machine (32768 when it cannot be read).</summary>
    public static int EphemeralLow { get; } = ReadEphemeralLow();

    /// <summary>A port on 127.0.0.1 that is free now and has not been returned before in this run.</summary>
    public static int Next()
    {
        int high = Math.Max(EphemeralLow, 2048);
        int low = Math.Max(1024, high - 12_000);
        for (int attempt = 0; attempt < 500; attempt++)
        {
            int port = Random.Shared.Next(low, high);
            lock (Gate)
            {
                if (HandedOut.Contains(port) || !CanBind(port)) continue;
                HandedOut.Add(port);
                return port;
            }
        }
        throw new InvalidOperationException($"no free loopback port found in [{low}, {high})");
    }

    /// <summary>True when nothing listens on (or holds) 127.0.0.1:<paramref name="port"/>.</summary>
    public static bool CanBind(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int ReadEphemeralLow()
    {
        try
        {
            string text = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range");
            string first = text.Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries)[0];
            return int.Parse(first, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768;
        }
    }
}
