using Posthorn.Mail.Outbound;

namespace Posthorn.Tests.Outbound;

/// <summary>A resolver for tests whose next hops are addresses: any lookup is a test bug and throws.</summary>
internal sealed class NoDnsResolver : IDnsResolver
{
    public ValueTask<DnsAnswer<MxRecord>> LookupMxAsync(string domain, CancellationToken ct) => throw new InvalidOperationException(domain);
    public ValueTask<DnsAnswer<System.Net.IPAddress>> LookupAAsync(string host, CancellationToken ct) => throw new InvalidOperationException(host);
    public ValueTask<DnsAnswer<System.Net.IPAddress>> LookupAaaaAsync(string host, CancellationToken ct) => throw new InvalidOperationException(host);
}
