using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Posthorn.Config;

/// <summary>What the configuration needs to know about the machine: its name, its interfaces, name lookups.</summary>
/// <remarks>The daemon calls <see cref="Detect"/> once; tests build their own instance so that nothing depends
/// on the machine they run on (STYLE C14).</remarks>
public sealed class HostInfo
{
    /// <summary>The machine's fully-qualified name; the default of <c>myhostname</c>.</summary>
    public required string Fqdn { get; init; }

    /// <summary>The machine's interface addresses with their prefix lengths; input of the computed <c>mynetworks</c>.</summary>
    public IReadOnlyList<InterfaceAddress> Interfaces { get; init; } =
        [new(IPAddress.Loopback, 8), new(IPAddress.IPv6Loopback, 128)];

    /// <summary>Whether the machine can use IPv6; <c>inet_protocols = all</c> includes IPv6 only then.</summary>
    public bool SupportsIPv6 { get; init; } = true;

    /// <summary>Host name to addresses (for inet_interfaces and master.cf host:port names).</summary>
    public Func<string, IPAddress[]> ResolveHost { get; init; } = Dns.GetHostAddresses;

    /// <summary>Service name to TCP port, as /etc/services says; null when unknown.</summary>
    public Func<string, int?> LookupService { get; init; } = ServicesFile.Lookup;

    /// <summary>Reads the machine's name (gethostname, then DNS for a fully-qualified form) and interfaces.</summary>
    public static HostInfo Detect()
    {
        string name = Dns.GetHostName();
        if (!name.Contains('.'))
        {
            try
            {
                string canonical = Dns.GetHostEntry(name).HostName;
                if (canonical.Contains('.'))
                    name = canonical;
            }
            catch (SocketException)
            {
                // No resolver answer: fall through to the Postfix rule below.
            }
        }
        // Postfix mail_params.c: a single-label host name gets ".localdomain" appended.
        if (!name.Contains('.'))
            name += ".localdomain";

        var interfaces = new List<InterfaceAddress>();
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus is OperationalStatus.Down)
                continue;
            foreach (var ua in nic.GetIPProperties().UnicastAddresses)
            {
                var a = ua.Address;
                if (a.AddressFamily == AddressFamily.InterNetworkV6 && a.ScopeId != 0)
                    a = new IPAddress(a.GetAddressBytes());
                interfaces.Add(new InterfaceAddress(a, ua.PrefixLength));
            }
        }
        return new HostInfo { Fqdn = name.ToLowerInvariant(), Interfaces = interfaces, SupportsIPv6 = Socket.OSSupportsIPv6 };
    }
}

/// <summary>One address of a network interface, with the length of its network prefix.</summary>
public sealed record InterfaceAddress(IPAddress Address, int PrefixLength);
