using System.Net;
using System.Net.Sockets;

namespace Posthorn.Daemon.Master;

/// <summary>The listening TCP socket of one master.cf inet row's address (Postfix inet_listen()).</summary>
internal static class ListenSocket
{
    /// <summary>Binds and listens on <paramref name="endPoint"/>; an IPv6 address listens for IPv6 only, as
    /// Postfix does with inet_protocols. A failure is an IOException naming the address and port.</summary>
    public static Socket Bind(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            socket.Bind(endPoint);
            socket.Listen(512);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"bind {endPoint.Address} port {endPoint.Port}: {e.Message}", e);
        }
    }
}
