using System.Net;

namespace Posthorn.Mail.Outbound;

/// <summary>How a DNS query ended, in the terms the SMTP client acts on.</summary>
public enum DnsStatus
{
    /// <summary>The name has records of the type asked for.</summary>
    Ok,
    /// <summary>NXDOMAIN: the name does not exist (a permanent failure).</summary>
    NotFound,
    /// <summary>The name exists but has no records of this type (NOERROR, empty answer).</summary>
    NoData,
    /// <summary>SERVFAIL, timeout, no server: try again later (never a bounce).</summary>
    TryAgain,
}

/// <summary>One MX record: <c>preference exchange</c>. An exchange of <c>""</c> is RFC 7505's null MX (<c>0 .</c>).</summary>
public readonly record struct MxRecord(int Preference, string Exchange)
{
    public bool IsNullMx => Exchange.Length == 0;
}

/// <summary>An answer: its status and, when <see cref="DnsStatus.Ok"/>, the records.</summary>
public sealed record DnsAnswer<T>(DnsStatus Status, IReadOnlyList<T> Records, string Error = "")
{
    public static DnsAnswer<T> Fail(DnsStatus status, string error = "") => new(status, [], error);
}

/// <summary>The DNS lookups the SMTP client needs (STYLE.md: DNS comes in through a constructor).</summary>
/// <remarks>The production implementation is <see cref="DnsClientResolver"/> (DnsClient);
/// tests point that one at a DNS server on loopback.</remarks>
public interface IDnsResolver
{
    ValueTask<DnsAnswer<MxRecord>> LookupMxAsync(string domain, CancellationToken ct);
    ValueTask<DnsAnswer<IPAddress>> LookupAAsync(string host, CancellationToken ct);
    ValueTask<DnsAnswer<IPAddress>> LookupAaaaAsync(string host, CancellationToken ct);
}
