using System.Net;
using Posthorn.Mail.Outbound;

namespace Posthorn.Daemon.Policy;

/// <summary>An <see cref="IDnsResolver"/> made on the first query, so that a session whose restrictions never
/// consult DNS never builds a resolver.</summary>
public sealed class LazyDnsResolver(Func<IDnsResolver> create) : IDnsResolver
{
    private readonly Lazy<IDnsResolver> _inner = new(create);

    public ValueTask<DnsAnswer<MxRecord>> LookupMxAsync(string domain, CancellationToken ct) => _inner.Value.LookupMxAsync(domain, ct);

    public ValueTask<DnsAnswer<IPAddress>> LookupAAsync(string host, CancellationToken ct) => _inner.Value.LookupAAsync(host, ct);

    public ValueTask<DnsAnswer<IPAddress>> LookupAaaaAsync(string host, CancellationToken ct) => _inner.Value.LookupAaaaAsync(host, ct);
}
