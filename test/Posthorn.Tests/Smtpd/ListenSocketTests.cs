using System.Net;
using System.Net.Sockets;
using Posthorn.Daemon.Master;
using Xunit;

namespace Posthorn.Tests.Smtpd;

/// <summary>The listening socket of an inet row (<see cref="ListenSocket"/>): a port another listener holds is refused,
/// as Postfix's bind fails, and a port left in TIME_WAIT by the daemon before binds again.</summary>
public sealed class ListenSocketTests
{
    [Fact]
    public void A_second_listener_on_the_same_address_is_refused_not_given_a_share_of_the_port()
    {
        using var first = ListenSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var taken = (IPEndPoint)first.LocalEndPoint!;
        var e = Assert.Throws<IOException>(() => ListenSocket.Bind(taken));
        Assert.StartsWith($"bind 127.0.0.1 port {taken.Port}: ", e.Message);
        Assert.Equal(SocketError.AddressAlreadyInUse, Assert.IsType<SocketException>(e.InnerException).SocketErrorCode);
    }

    [Fact]
    public async Task A_port_with_a_connection_in_time_wait_binds_again()
    {
        IPEndPoint address;
        using (var listener = ListenSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0)))
        {
            address = (IPEndPoint)listener.LocalEndPoint!;
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(address);
            using var served = await listener.AcceptAsync();
            // The server side closes first, so its end of the connection (on the listening port) enters TIME_WAIT.
            served.Shutdown(SocketShutdown.Both);
            served.Close();
            Assert.Equal(0, await client.ReceiveAsync(new byte[1]));
        }
        using var again = ListenSocket.Bind(address);
        Assert.Equal(address.Port, ((IPEndPoint)again.LocalEndPoint!).Port);
    }
}
