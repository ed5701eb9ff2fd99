namespace Posthorn.Config;

/// <summary>A list of domain names such as <c>mydestination</c>; matching is exact and case-insensitive.</summary>
/// <remarks>Postfix postconf(5) parent_domain_matches_subdomains does not list mydestination, so a name
/// matches only itself, not its subdomains. A trailing dot is ignored on both sides.</remarks>
public sealed class DomainList
{
    private readonly HashSet<string> _set;

    /// <summary>Builds a list from names; empty entries are dropped.</summary>
    public DomainList(IEnumerable<string> names)
    {
        Names = [.. names.Select(Normalize).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal)];
        _set = new HashSet<string>(Names, StringComparer.Ordinal);
    }

    /// <summary>The names, lower-cased, in list order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Whether <paramref name="domain"/> is one of the names.</summary>
    public bool Matches(string domain) => _set.Contains(Normalize(domain));

    private static string Normalize(string name) => name.Trim().TrimEnd('.').ToLowerInvariant();
}
