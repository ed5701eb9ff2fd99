using System.Net;
using System.Net.Sockets;
using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Outbound;

/// <summary>How to look up host addresses (<c>smtp_host_lookup</c>) and which families to use (<c>inet_protocols</c>).</summary>
public sealed record HostLookupOptions
{
    /// <summary><c>smtp_host_lookup</c>: <c>dns</c>, <c>native</c>, or both in order.</summary>
    public IReadOnlyList<string> HostLookup { get; init; } = ["dns"];
    public bool UseIPv4 { get; init; } = true;
    public bool UseIPv6 { get; init; } = true;
    /// <summary><c>smtp_mx_address_limit</c>: most addresses to try (0 = no limit).</summary>
    public int MxAddressLimit { get; init; } = 5;
}

/// <summary>The addresses to try for one next hop, best first, or why there are none.</summary>
public sealed record NextHopResolution(IReadOnlyList<SmtpServerAddress> Servers, DeliveryOutcome Outcome, EnhancedStatus Dsn, string Error)
{
    public bool Found => Servers.Count > 0;
    public static NextHopResolution Failed(DeliveryOutcome outcome, EnhancedStatus dsn, string error) => new([], outcome, dsn, error);
}

/// <summary>Finds the SMTP servers for a next hop: RFC 5321 §5.1 MX selection over <see cref="IDnsResolver"/>.</summary>
public sealed class NextHopResolver(IDnsResolver dns, HostLookupOptions options, Random random)
{
    private static readonly EnhancedStatus NameTempFail = new(4, 4, 3);
    private static readonly EnhancedStatus NameNotFound = new(5, 4, 4);
    private static readonly EnhancedStatus NullMx = new(5, 1, 10);

    public async Task<NextHopResolution> ResolveAsync(NextHop hop, CancellationToken ct)
    {
        if (IPAddress.TryParse(hop.Host, out var literal))
            return Ok([new SmtpServerAddress(hop.Host, literal, hop.Port)]);

        var hosts = new List<string>();
        if (hop.SkipMx)
        {
            hosts.Add(hop.Host);   // Postfix smtp(8): [host] suppresses MX lookups.
        }
        else
        {
            var mx = await dns.LookupMxAsync(hop.Host, ct).ConfigureAwait(false);
            switch (mx.Status)
            {
                case DnsStatus.NotFound:
                    return NameError(hop.Host, "MX", DnsStatus.NotFound);
                case DnsStatus.TryAgain:
                    return NameError(hop.Host, "MX", DnsStatus.TryAgain);
                case DnsStatus.NoData:
                    hosts.Add(hop.Host);   // RFC 5321 §5.1: no MX, the domain itself is the implicit MX.
                    break;
                default:
                    // RFC 7505 §3: a single "0 ." record says the domain accepts no mail.
                    if (mx.Records.Count == 1 && mx.Records[0].IsNullMx)
                        return NextHopResolution.Failed(DeliveryOutcome.Bounced, NullMx, $"Domain {hop.Host} does not accept mail (nullMX)");
                    hosts.AddRange(OrderMx(mx.Records));
                    break;
            }
        }

        var servers = new List<SmtpServerAddress>();
        DnsStatus worst = DnsStatus.NotFound;
        string failedName = hosts.Count > 0 ? hosts[0] : hop.Host;
        string failedType = "A";
        foreach (var host in hosts)
        {
            var (addresses, status, type) = await LookupHostAsync(host, ct).ConfigureAwait(false);
            if (addresses.Count == 0)
            {
                if (status == DnsStatus.TryAgain || worst != DnsStatus.TryAgain) { worst = status; failedName = host; failedType = type; }
                continue;
            }
            servers.AddRange(addresses.Select(a => new SmtpServerAddress(host, a, hop.Port)));
            if (options.MxAddressLimit > 0 && servers.Count >= options.MxAddressLimit) break;
        }
        if (servers.Count == 0) return NameError(failedName, failedType, worst);
        if (options.MxAddressLimit > 0 && servers.Count > options.MxAddressLimit) servers.RemoveRange(options.MxAddressLimit, servers.Count - options.MxAddressLimit);
        return Ok(servers);
    }

    /// <summary>RFC 5321 §5.1: lowest preference first; equal preferences in random order (load spreading).
    /// Null MX entries among real ones are ignored.</summary>
    internal IEnumerable<string> OrderMx(IReadOnlyList<MxRecord> records)
    {
        foreach (var group in records.Where(r => !r.IsNullMx).GroupBy(r => r.Preference).OrderBy(g => g.Key))
        {
            var hosts = group.Select(r => r.Exchange).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
            random.Shuffle(hosts);
            foreach (var h in hosts) yield return h;
        }
    }

    private async Task<(List<IPAddress> Addresses, DnsStatus Status, string Type)> LookupHostAsync(string host, CancellationToken ct)
    {
        if (IPAddress.TryParse(host, out var ip)) return ([ip], DnsStatus.Ok, "A");
        DnsStatus status = DnsStatus.NotFound;
        string type = options.UseIPv4 ? "A" : "AAAA";
        foreach (var method in options.HostLookup)
        {
            var found = new List<IPAddress>();
            if (method.Equals("native", StringComparison.OrdinalIgnoreCase))
            {
                var (addresses, s) = await NativeLookupAsync(host, ct).ConfigureAwait(false);
                found.AddRange(addresses);
                status = s;
            }
            else
            {
                bool tempFail = false;
                if (options.UseIPv4)
                {
                    var a = await dns.LookupAAsync(host, ct).ConfigureAwait(false);
                    found.AddRange(a.Records);
                    tempFail |= a.Status == DnsStatus.TryAgain;
                }
                if (options.UseIPv6)
                {
                    var aaaa = await dns.LookupAaaaAsync(host, ct).ConfigureAwait(false);
                    found.AddRange(aaaa.Records);
                    tempFail |= aaaa.Status == DnsStatus.TryAgain;
                }
                status = found.Count > 0 ? DnsStatus.Ok : tempFail ? DnsStatus.TryAgain : DnsStatus.NotFound;
            }
            if (found.Count > 0) return (found, DnsStatus.Ok, type);
        }
        return ([], status, type);
    }

    /// <summary><c>smtp_host_lookup = native</c>: the system resolver (nsswitch.conf, /etc/hosts).</summary>
    private async Task<(IReadOnlyList<IPAddress>, DnsStatus)> NativeLookupAsync(string host, CancellationToken ct)
    {
        try
        {
            var all = await Dns.GetHostAddressesAsync(host, ct).ConfigureAwait(false);
            return (all.Where(a => (a.AddressFamily == AddressFamily.InterNetwork && options.UseIPv4)
                || (a.AddressFamily == AddressFamily.InterNetworkV6 && options.UseIPv6)).ToList(), DnsStatus.Ok);
        }
        catch (SocketException e)
        {
            return ([], e.SocketErrorCode == SocketError.TryAgain ? DnsStatus.TryAgain : DnsStatus.NotFound);
        }
    }

    private static NextHopResolution Ok(IReadOnlyList<SmtpServerAddress> servers) =>
        new(servers, DeliveryOutcome.Sent, default, "");

    /// <summary>Postfix's texts: "Host or domain name not found. Name service error for name=X type=MX: Host not found[, try again]".</summary>
    private static NextHopResolution NameError(string name, string type, DnsStatus status) => status == DnsStatus.TryAgain
        ? NextHopResolution.Failed(DeliveryOutcome.Deferred, NameTempFail,
            $"Host or domain name not found. Name service error for name={name} type={type}: Host not found, try again")
        : NextHopResolution.Failed(DeliveryOutcome.Bounced, NameNotFound,
            $"Host or domain name not found. Name service error for name={name} type={type}: Host not found");
}
