using System.Net;
using DnsClient;

namespace Posthorn.Daemon.Smtpd;

/// <summary>smtpd's client name (Postfix smtpd_peer.c): the reverse name of the client's address, kept only when a
/// forward lookup of that name gives the address back; otherwise "unknown".</summary>
/// <remarks>
/// Postfix asks the system resolver (getnameinfo, getaddrinfo), so /etc/hosts counts: 127.0.0.1 is "localhost".
/// DEVIATION: Posthorn reads the hosts file itself and asks DNS with DnsClient (posthorn_dns_servers, or resolv.conf),
/// because the system resolver blocks a thread per lookup: a flood of connections from addresses whose PTR lookups
/// time out would tie up the thread pool and starve every other session. Other nsswitch sources (LDAP, NIS) are not
/// consulted. The hosts file is read again when its modification time changes.
/// Security: the names are only labels for logs and restrictions; a name is never trusted without the forward check.
/// </remarks>
public sealed class ClientNameLookup(IReadOnlyList<IPEndPoint> servers, TimeSpan timeout, string hostsFile = "/etc/hosts")
{
    public const string Unknown = "unknown";

    private readonly Lazy<LookupClient> _dns = new(() =>
    {
        var options = servers.Count > 0 ? new LookupClientOptions([.. servers.Select(s => new NameServer(s))]) : new LookupClientOptions();
        options.Timeout = timeout;
        options.Retries = 1;
        options.UseCache = true;
        return new LookupClient(options);
    });

    private volatile HostsSnapshot? _hosts;

    /// <summary>The verified name of <paramref name="address"/>, or <see cref="Unknown"/>.</summary>
    public async ValueTask<string> NameAsync(IPAddress address, CancellationToken ct)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var hosts = Hosts();
        if (hosts.NameOf(address) is { } local)
            return hosts.AddressesOf(local).Contains(address) ? local : Unknown;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(timeout * 2);
            var reverse = await _dns.Value.QueryReverseAsync(address, deadline.Token);
            if (reverse.HasError || reverse.Answers.PtrRecords().FirstOrDefault()?.PtrDomainName.Value.TrimEnd('.') is not { Length: > 0 } name)
                return Unknown;
            if (hosts.AddressesOf(name).Contains(address)) return name;
            var type = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? QueryType.AAAA : QueryType.A;
            var forward = await _dns.Value.QueryAsync(name, type, cancellationToken: deadline.Token);
            return forward.Answers.AddressRecords().Any(r => r.Address.Equals(address)) ? name : Unknown;
        }
        catch (Exception e) when (e is DnsResponseException or OperationCanceledException or ArgumentException)
        {
            return Unknown;
        }
    }

    /// <summary>The parsed hosts file, read again when it changed (at most one stat per lookup).</summary>
    private HostsSnapshot Hosts()
    {
        DateTime stamp;
        try { stamp = File.GetLastWriteTimeUtc(hostsFile); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { stamp = DateTime.MinValue; }
        var current = _hosts;
        if (current is not null && current.Stamp == stamp) return current;
        return _hosts = HostsSnapshot.Read(hostsFile, stamp);
    }

    /// <summary>hosts(5): "IP_address canonical_hostname [aliases...]", # to the end of the line is a comment.</summary>
    internal sealed class HostsSnapshot(DateTime stamp, Dictionary<IPAddress, string> names, Dictionary<string, List<IPAddress>> addresses)
    {
        public DateTime Stamp { get; } = stamp;

        /// <summary>The canonical name of the first line that lists <paramref name="address"/>.</summary>
        public string? NameOf(IPAddress address) => names.GetValueOrDefault(address);

        public IReadOnlyList<IPAddress> AddressesOf(string name) => addresses.TryGetValue(name, out var list) ? list : [];

        public static HostsSnapshot Read(string path, DateTime stamp)
        {
            var names = new Dictionary<IPAddress, string>();
            var addresses = new Dictionary<string, List<IPAddress>>(StringComparer.OrdinalIgnoreCase);
            string[] lines;
            try { lines = File.ReadAllLines(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { lines = []; }
            foreach (var raw in lines)
            {
                int hash = raw.IndexOf('#');
                var fields = (hash < 0 ? raw : raw[..hash]).Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 2 || !IPAddress.TryParse(fields[0], out var address)) continue;
                names.TryAdd(address, fields[1]);
                foreach (var name in fields.Skip(1))
                {
                    if (!addresses.TryGetValue(name, out var list)) addresses[name] = list = [];
                    if (!list.Contains(address)) list.Add(address);
                }
            }
            return new HostsSnapshot(stamp, names, addresses);
        }
    }
}
