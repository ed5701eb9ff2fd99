using System.Net;
using System.Net.Sockets;

namespace Posthorn.Daemon.Master;

/// <summary>The listening TCP socket of one master.cf inet row's address (Postfix inet_listen()).</summary>
internal static class ListenSocket
{
    private const int SolSocket = 1, SoReuseAddr = 2;   // <sys/socket.h> on Linux

    /// <summary>Binds and listens on <paramref name="endPoint"/>; an IPv6 address listens for IPv6 only, as
    /// Postfix does with inet_protocols. A failure is an IOException naming the address and port.</summary>
    public static Socket Bind(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // SO_REUSEADDR, as Postfix's inet_listen() sets it: a restarted daemon binds again while connections of the
            // one before sit in TIME_WAIT. Not SocketOptionName.ReuseAddress: on Linux .NET sets SO_REUSEPORT with it,
            // and a second daemon on the same address would then share the port (the kernel spreading connections
            // over both) instead of failing with "Address already in use".
            socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            socket.Bind(endPoint);
            // The kernel's largest backlog (net.core.somaxconn): a burst of connections waits in the accept queue
            // instead of overflowing it. With 512, 10,000 clients connecting at once had 1,400–1,800 of them wait for
            // the kernel's SYN-ACK retransmissions, seconds to half a minute, before their banner (imap-idle.sh,
            // smtp-compare.sh --idle 10000, issue 9).
            socket.Listen();
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"bind {endPoint.Address} port {endPoint.Port}: {e.Message}", e);
        }
    }
}
