using System.Net;
using DnsClient;

namespace Posthorn.Daemon.Policy;

/// <summary>The reverse (PTR) name of an address, unverified: what reject_unknown_reverse_client_hostname needs
/// when smtpd's client name is "unknown" (Postfix smtpd(8) keeps both reverse_client_name and client_name).</summary>
/// <remarks>Servers: posthorn_dns_servers, or the system's resolv.conf when none are given. A lookup that fails
/// or times out counts as no name, as Postfix's reverse_client_name "unknown".</remarks>
public sealed class PtrLookup(IReadOnlyList<IPEndPoint> servers, TimeSpan timeout)
{
    private readonly Lazy<LookupClient> _client = new(() =>
    {
        var options = servers.Count > 0 ? new LookupClientOptions([.. servers.Select(s => new NameServer(s))]) : new LookupClientOptions();
        options.Timeout = timeout;
        options.Retries = 0;
        options.UseCache = false;
        return new LookupClient(options);
    });

    /// <summary>The first PTR name of <paramref name="address"/> without the final dot, or null.</summary>
    public async ValueTask<string?> ReverseNameAsync(IPAddress address, CancellationToken ct)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        try
        {
            var response = await _client.Value.QueryReverseAsync(address, ct);
            return response.HasError ? null : response.Answers.PtrRecords().FirstOrDefault()?.PtrDomainName.Value.TrimEnd('.');
        }
        catch (DnsResponseException)
        {
            return null;
        }
    }
}
