using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;

namespace Posthorn.Mail.Outbound;

/// <summary><see cref="IDnsResolver"/> over DnsClient (DESIGN.md decision 7).</summary>
/// <remarks>With no servers given, DnsClient reads the name servers from /etc/resolv.conf, as the
/// system resolver would. The Posthorn extension parameter <c>posthorn_dns_servers</c> names other
/// servers (<c>ip</c> or <c>ip:port</c>), which is how tests use a DNS server on loopback.
/// No caching here: each delivery attempt asks again (the server caches).</remarks>
public sealed class DnsClientResolver : IDnsResolver
{
    private readonly LookupClient _client;

    /// <param name="servers">Name servers to ask; empty means those of /etc/resolv.conf.</param>
    /// <param name="timeout">Per-query timeout; a timeout is <see cref="DnsStatus.TryAgain"/>.</param>
    public DnsClientResolver(IReadOnlyList<IPEndPoint> servers, TimeSpan timeout)
    {
        var options = servers.Count > 0
            ? new LookupClientOptions([.. servers.Select(s => new NameServer(s))])
            : new LookupClientOptions();
        options.UseCache = false;
        options.Timeout = timeout;
        options.Retries = 1;
        options.ThrowDnsErrors = false;
        options.ContinueOnDnsError = false;
        options.ContinueOnEmptyResponse = false;
        options.UseTcpFallback = true;
        _client = new LookupClient(options);
    }

    /// <summary>Parses <c>posthorn_dns_servers</c> entries: <c>ip</c>, <c>ip:port</c>, <c>[ipv6]:port</c>.</summary>
    public static bool TryParseServer(string text, out IPEndPoint endPoint)
    {
        if (IPEndPoint.TryParse(text, out var ep))
        {
            endPoint = ep.Port == 0 ? new IPEndPoint(ep.Address, 53) : ep;
            return true;
        }
        endPoint = new IPEndPoint(IPAddress.None, 0);
        return false;
    }

    public async ValueTask<DnsAnswer<MxRecord>> LookupMxAsync(string domain, CancellationToken ct)
    {
        var (status, response, error) = await QueryAsync(domain, QueryType.MX, ct).ConfigureAwait(false);
        if (status != DnsStatus.Ok) return DnsAnswer<MxRecord>.Fail(status, error);
        var records = response!.Answers.MxRecords()
            .Select(mx => new MxRecord(mx.Preference, TrimDot(mx.Exchange.Value)))
            .ToList();
        return records.Count == 0 ? DnsAnswer<MxRecord>.Fail(DnsStatus.NoData) : new(DnsStatus.Ok, records);
    }

    public ValueTask<DnsAnswer<IPAddress>> LookupAAsync(string host, CancellationToken ct) =>
        LookupAddressAsync(host, QueryType.A, ct);

    public ValueTask<DnsAnswer<IPAddress>> LookupAaaaAsync(string host, CancellationToken ct) =>
        LookupAddressAsync(host, QueryType.AAAA, ct);

    private async ValueTask<DnsAnswer<IPAddress>> LookupAddressAsync(string host, QueryType type, CancellationToken ct)
    {
        var (status, response, error) = await QueryAsync(host, type, ct).ConfigureAwait(false);
        if (status != DnsStatus.Ok) return DnsAnswer<IPAddress>.Fail(status, error);
        var family = type == QueryType.A ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        var records = response!.Answers.OfType<AddressRecord>().Select(a => a.Address)
            .Where(a => a.AddressFamily == family).ToList();
        return records.Count == 0 ? DnsAnswer<IPAddress>.Fail(DnsStatus.NoData) : new(DnsStatus.Ok, records);
    }

    private async Task<(DnsStatus, IDnsQueryResponse?, string)> QueryAsync(string name, QueryType type, CancellationToken ct)
    {
        IDnsQueryResponse response;
        try
        {
            response = await _client.QueryAsync(name, type, QueryClass.IN, ct).ConfigureAwait(false);
        }
        catch (DnsResponseException e)
        {
            return (DnsStatus.TryAgain, null, e.Message);
        }
        if (response.HasError)
        {
            // RFC 1035 §4.1.1 RCODE 3 (NXDOMAIN) is final; every other error may pass.
            return response.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain
                ? (DnsStatus.NotFound, response, "Host not found")
                : (DnsStatus.TryAgain, response, response.ErrorMessage);
        }
        return (DnsStatus.Ok, response, "");
    }

    private static string TrimDot(string name) => name.EndsWith('.') ? name[..^1] : name;
}
