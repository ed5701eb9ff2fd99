using System.Net;
using Posthorn.Core;
using Posthorn.Mail.Outbound;

namespace Posthorn.Daemon.Policy;

/// <summary>What one restriction gave (Postfix SMTPD_CHECK_DUNNO / OK / REJECT).</summary>
public enum RestrictionResult
{
    /// <summary>No decision: the next restriction runs.</summary>
    Dunno,
    /// <summary>Permit: this list ends, the next list runs.</summary>
    Permit,
    /// <summary>Reject (or defer): the check ends with a reply.</summary>
    Reject,
}

/// <summary>An observer of <see cref="RestrictionEvaluator"/>: told each list it starts, each restriction it
/// evaluates and each access table lookup it makes. smtpd runs without one (null) and pays nothing;
/// <c>posthorn postfix explain</c> records one.</summary>
public interface IRestrictionTrace
{
    /// <summary>A restriction list starts: a smtpd_*_restrictions parameter, a restriction class, or a list
    /// returned by an access table. <paramref name="depth"/> is 1 for the top-level lists.</summary>
    void ListStarted(string parameterName, int depth, IReadOnlyList<string> restrictions);

    /// <summary>One restriction was evaluated; <paramref name="reply"/> is the reply when it rejected.</summary>
    void RestrictionDone(string parameterName, int depth, string restriction, string? argument, RestrictionResult result,
        SmtpReply? reply);

    /// <summary>An access(5) table was consulted with <paramref name="keys"/> in order; the first hit (key and
    /// value) or null when none matched.</summary>
    void TableLookup(string table, IReadOnlyList<string> keys, string? foundKey, string? value);
}

/// <summary>One recorded event of a restriction check.</summary>
/// <param name="Kind">list, restriction, lookup or dns.</param>
public sealed record TraceEvent(string Kind, int Depth, string Name, string? Argument, string Text, SmtpReply? Reply = null);

/// <summary>An <see cref="IRestrictionTrace"/> that keeps every event, in order, for printing.</summary>
public sealed class RestrictionTrace : IRestrictionTrace
{
    private readonly List<TraceEvent> _events = [];
    private int _depth;

    public IReadOnlyList<TraceEvent> Events => _events;

    public void ListStarted(string parameterName, int depth, IReadOnlyList<string> restrictions)
    {
        _depth = depth;
        _events.Add(new TraceEvent("list", depth, parameterName, null, restrictions.Count == 0 ? "(empty)" : string.Join(", ", restrictions)));
    }

    public void RestrictionDone(string parameterName, int depth, string restriction, string? argument, RestrictionResult result,
        SmtpReply? reply)
    {
        _depth = depth;
        string text = result switch
        {
            RestrictionResult.Permit => "permit",
            RestrictionResult.Reject => "reject",
            _ => "no decision",
        };
        _events.Add(new TraceEvent("restriction", depth, restriction, argument, text, reply));
    }

    public void TableLookup(string table, IReadOnlyList<string> keys, string? foundKey, string? value)
    {
        string text = foundKey is null
            ? $"{string.Join(", ", keys)}: not found"
            : $"{string.Join(", ", keys.TakeWhile(k => k != foundKey).Append(foundKey))}: found {foundKey} = {value}";
        _events.Add(new TraceEvent("lookup", _depth, table, null, text));
    }

    /// <summary>A DNS query made on behalf of a restriction (reject_rbl_client, reject_rhsbl_*).</summary>
    public void DnsQuery(string type, string name, string answer) =>
        _events.Add(new TraceEvent("dns", _depth, type, name, answer));
}

/// <summary>An <see cref="IDnsResolver"/> that reports each query and its answer to a <see cref="RestrictionTrace"/>.</summary>
public sealed class TracingDnsResolver(IDnsResolver inner, RestrictionTrace trace) : IDnsResolver
{
    public async ValueTask<DnsAnswer<MxRecord>> LookupMxAsync(string domain, CancellationToken ct)
    {
        var answer = await inner.LookupMxAsync(domain, ct);
        trace.DnsQuery("MX", domain, Describe(answer.Status, answer.Records.Select(r => $"{r.Preference} {r.Exchange}"), answer.Error));
        return answer;
    }

    public async ValueTask<DnsAnswer<IPAddress>> LookupAAsync(string host, CancellationToken ct)
    {
        var answer = await inner.LookupAAsync(host, ct);
        trace.DnsQuery("A", host, Describe(answer.Status, answer.Records.Select(a => a.ToString()), answer.Error));
        return answer;
    }

    public async ValueTask<DnsAnswer<IPAddress>> LookupAaaaAsync(string host, CancellationToken ct)
    {
        var answer = await inner.LookupAaaaAsync(host, ct);
        trace.DnsQuery("AAAA", host, Describe(answer.Status, answer.Records.Select(a => a.ToString()), answer.Error));
        return answer;
    }

    private static string Describe(DnsStatus status, IEnumerable<string> records, string? error) => status switch
    {
        DnsStatus.Ok => string.Join(", ", records),
        DnsStatus.TryAgain => $"temporary failure{(string.IsNullOrEmpty(error) ? "" : ": " + error)}",
        DnsStatus.NotFound => "not found (NXDOMAIN)",
        _ => "no records of this type",
    };
}
