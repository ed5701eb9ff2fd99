using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Posthorn.Mail.Delivery;

/// <summary>Postfix biff_notify(3): tells the local comsat(8) that new mail arrived.</summary>
/// <remarks>
/// Postfix local(8) mailbox.c: after a successful delivery to a UNIX-style mailbox (not Maildir,
/// not files or commands), with <c>biff = yes</c>, one UDP datagram <c>user@offset</c> goes to the
/// "biff" service of the local host; offset is where the new message starts. Like Postfix the
/// terminating NUL byte is sent too. comsat(8) reads "user@mailbox-offset".
/// Security: the datagram goes to 127.0.0.1 only; nothing is read back and every error is
/// ignored, so a missing comsat never delays or fails a delivery.
/// Parameters: biff.
/// </remarks>
internal static class Biff
{
    /// <summary>Sends <c>user@offset\0</c> to 127.0.0.1:<paramref name="port"/>; never throws for network errors.</summary>
    public static void Notify(int port, string user, long offset)
    {
        byte[] datagram = Encoding.UTF8.GetBytes($"{user}@{offset}\0");
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.SendTo(datagram, new IPEndPoint(IPAddress.Loopback, port));
        }
        catch (SocketException)
        {
            // Postfix biff_notify: "no news is good news" - a failed notification is not an error.
        }
    }
}
