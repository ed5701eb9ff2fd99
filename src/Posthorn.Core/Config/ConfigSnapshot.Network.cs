using System.Net;
using System.Net.Sockets;

namespace Posthorn.Config;

public sealed partial class ConfigSnapshot
{
    /// <summary>The address families of inet_protocols: <c>all</c>, <c>ipv4</c>, <c>ipv6</c> (postconf(5)).</summary>
    /// <exception cref="ConfigException">An unknown protocol name.</exception>
    internal (bool V4, bool V6) InetProtocols()
    {
        bool v4 = false, v6 = false;
        foreach (string p in GetList("inet_protocols"))
        {
            switch (p.ToLowerInvariant())
            {
                case "all":
                    v4 = true;
                    v6 |= _host.SupportsIPv6;
                    break;
                case "ipv4":
                    v4 = true;
                    break;
                case "ipv6":
                    v6 = true;
                    break;
                default:
                    throw Bad("inet_protocols", $"bad inet_protocols value: \"{p}\"");
            }
        }
        if (!v4 && !v6)
            throw Bad("inet_protocols", "inet_protocols: no usable protocol");
        return (v4, v6);
    }

    /// <summary>The addresses to listen on, from inet_interfaces filtered by inet_protocols.</summary>
    /// <remarks>Postfix postconf(5) inet_interfaces: <c>all</c> is every interface (the wildcard address of each
    /// protocol), <c>loopback-only</c> the loopback addresses; otherwise a list of addresses and host names.</remarks>
    /// <exception cref="ConfigException">An entry that is neither a keyword, an address nor a resolvable host name.</exception>
    public IReadOnlyList<IPAddress> InetInterfaces()
    {
        var (v4, v6) = InetProtocols();
        var result = new List<IPAddress>();
        void Add(IPAddress a)
        {
            if (a.IsIPv4MappedToIPv6)
                a = a.MapToIPv4();
            bool ok = a.AddressFamily == AddressFamily.InterNetwork ? v4 : v6;
            if (ok && !result.Contains(a))
                result.Add(a);
        }
        foreach (string item in GetList("inet_interfaces"))
        {
            string name = item.Trim('[', ']');
            if (name.Equals("all", StringComparison.OrdinalIgnoreCase))
            {
                Add(IPAddress.Any);
                Add(IPAddress.IPv6Any);
            }
            else if (name.Equals("loopback-only", StringComparison.OrdinalIgnoreCase) || name.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            {
                Add(IPAddress.Loopback);
                Add(IPAddress.IPv6Loopback);
            }
            else if (IPAddress.TryParse(name, out var a) && (name.Contains(':') || name.Count(c => c == '.') == 3))
            {
                Add(a);
            }
            else
            {
                foreach (var r in ResolveInterface(name))
                    Add(r);
            }
        }
        if (result.Count == 0)
            throw Bad("inet_interfaces", $"inet_interfaces: no local interface found for {Get("inet_interfaces")}");
        return result;
    }

    private IPAddress[] ResolveInterface(string name)
    {
        if (!IsHostName(name))
            throw Bad("inet_interfaces", $"inet_interfaces: bad address or host name: \"{name}\"");
        try
        {
            return _host.ResolveHost(name);
        }
        catch (SocketException)
        {
            throw Bad("inet_interfaces", $"inet_interfaces: host not found: {name}");
        }
    }

    /// <summary>Whether <paramref name="name"/> is a syntactically valid host name (RFC 1123 §2.1 labels).</summary>
    internal static bool IsHostName(string name)
    {
        if (name.Length is 0 or > 253)
            return false;
        foreach (string label in name.TrimEnd('.').Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
                return false;
            if (!label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                return false;
        }
        return true;
    }

    /// <summary>The trusted networks: mynetworks when set, else computed from mynetworks_style.</summary>
    /// <exception cref="ConfigException">A bad mynetworks entry or an unknown mynetworks_style.</exception>
    public NetworkList MyNetworks()
    {
        if (!IsSet("mynetworks"))
            return ComputeMyNetworks(Get("mynetworks_style"));
        if (!NetworkList.TryParse(Get("mynetworks"), TableOptions, out var list, out string? error))
            throw Bad("mynetworks", "mynetworks: " + error);
        return list;
    }

    /// <summary>Postfix postconf(5) mynetworks_style over the machine's interfaces: <c>host</c> trusts the
    /// interface addresses only, <c>subnet</c> their subnets, <c>class</c> their whole class A/B/C networks
    /// (for IPv6, <c>class</c> behaves as <c>subnet</c>).</summary>
    internal NetworkList ComputeMyNetworks(string style)
    {
        var nets = new List<(IPAddress, int)>();
        foreach (var ia in _host.Interfaces)
        {
            var a = ia.Address;
            bool v6 = a.AddressFamily == AddressFamily.InterNetworkV6;
            int prefix = style.Trim().ToLowerInvariant() switch
            {
                "host" => v6 ? 128 : 32,
                "subnet" => ia.PrefixLength,
                "class" => v6 ? ia.PrefixLength : ClassPrefix(a),
                _ => throw Bad("mynetworks_style", $"unknown mynetworks_style parameter value: {style}"),
            };
            nets.Add((a, prefix));
        }
        return NetworkList.FromNetworks(nets);
    }

    private static int ClassPrefix(IPAddress a)
    {
        byte first = a.GetAddressBytes()[0];
        return first < 128 ? 8 : first < 192 ? 16 : 24;
    }

    /// <summary>The domains delivered locally (mydestination, expanded). <c>/file</c> entries are replaced by
    /// the names in the file; <c>type:table</c> entries are looked up (see <see cref="DomainList"/>).</summary>
    public DomainList MyDestination() => DomainListOf("mydestination");
}
