using System.Net;
using System.Net.NetworkInformation;

namespace Posthorn.Daemon.Smtpd;

/// <summary>Postfix's permit_inet_interfaces: the client connects from one of this machine's own addresses.</summary>
internal static class LocalAddresses
{
    public static bool IsOwn(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return true;
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Any(u => u.Address.Equals(address));
        }
        catch (NetworkInformationException)
        {
            return false;
        }
    }
}
