using Posthorn.Config.Tables;

namespace Posthorn.Config;

/// <summary>A list of domain names such as <c>mydestination</c> or <c>relay_domains</c>: names, <c>/file</c>
/// names, <c>type:table</c> lookups and <c>!pattern</c> exclusions; the first matching entry decides.</summary>
/// <remarks>Postfix postconf(5) mydestination / relay_domains and match_list: matching is case-insensitive and a
/// trailing dot is ignored on both sides. A name matches itself; <c>.domain.tld</c> matches its subdomains; with
/// <paramref name="parentMatchesSubdomains"/> (the parameter is in parent_domain_matches_subdomains, as
/// relay_domains is by default and mydestination is not) <c>domain.tld</c> matches its subdomains too. A table
/// is asked for the name, then its parent domains (<see cref="LookupKeys.ForDomain"/>); any value found is a match
/// (the value itself is ignored). A failing table throws <see cref="LookupTableException"/> from
/// <see cref="Matches"/>: the caller answers "451 4.3.0 Temporary lookup failure" as Postfix does.</remarks>
public sealed class DomainList
{
    private readonly record struct Entry(string? Name, ILookupTable? Table, bool Negated);

    private readonly Entry[] _entries;
    private readonly bool _parent;

    /// <summary>Builds a list from names, each matching only itself (or its subdomains when written
    /// <c>.domain</c>); empty entries are dropped.</summary>
    public DomainList(IEnumerable<string> names)
        : this([.. names.Select(Normalize).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).Select(n => new Entry(n, null, false))], false)
    {
    }

    private DomainList(Entry[] entries, bool parentMatchesSubdomains)
    {
        _entries = entries;
        _parent = parentMatchesSubdomains;
        Names = [.. entries.Where(e => e.Name is not null && !e.Negated).Select(e => e.Name!).Distinct(StringComparer.Ordinal)];
        Tables = [.. entries.Where(e => e.Table is not null).Select(e => e.Table!)];
    }

    /// <summary>Parses the items of a domain-list parameter (already expanded and split): <c>name</c>,
    /// <c>.name</c>, <c>!pattern</c>, <c>/file/name</c> (replaced by the names in the file) and <c>type:table</c>.
    /// A file that cannot be read is reported through <paramref name="warn"/> and left out; a table that cannot
    /// be opened becomes a failing table (<see cref="LookupTables.OpenOrFail"/>).</summary>
    public static DomainList Parse(IEnumerable<string> items, bool parentMatchesSubdomains, LookupTableOptions tableOptions, Action<string>? warn = null)
    {
        var entries = new List<Entry>();
        foreach (string raw in items)
        {
            bool negated = raw.StartsWith('!');
            string item = negated ? raw[1..] : raw;
            if (item.StartsWith('/'))
            {
                try
                {
                    foreach (string line in File.ReadLines(item))
                    {
                        if (!line.TrimStart().StartsWith('#'))
                            entries.AddRange(ConfigSnapshot.SplitList(line).Select(n => new Entry(Normalize(n), null, negated)));
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    warn?.Invoke($"cannot read {item}: {e.Message}");
                }
            }
            else if (item.Contains(':'))
                entries.Add(new Entry(null, LookupTables.OpenOrFail(item, tableOptions), negated));
            else if (Normalize(item) is { Length: > 0 } name)
                entries.Add(new Entry(name, null, negated));
        }
        return new DomainList([.. entries], parentMatchesSubdomains);
    }

    /// <summary>The plain names (not tables, not exclusions), lower-cased, in list order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The <c>type:table</c> entries, in list order.</summary>
    public IReadOnlyList<ILookupTable> Tables { get; }

    /// <summary>Whether <paramref name="domain"/> matches the list (first matching entry decides).</summary>
    /// <exception cref="LookupTableException">A table consulted before a decision failed.</exception>
    public bool Matches(string domain)
    {
        string d = Normalize(domain);
        if (d.Length == 0)
            return false;
        foreach (var e in _entries)
        {
            bool hit = e.Table is not null
                ? LookupKeys.ForDomain(d, _parent).Any(k => e.Table.TryLookup(k, out _))
                : NameMatches(e.Name!, d);
            if (hit)
                return !e.Negated;
        }
        return false;
    }

    private bool NameMatches(string pattern, string domain)
    {
        if (pattern == domain)
            return true;
        if (pattern.StartsWith('.'))
            return domain.EndsWith(pattern, StringComparison.Ordinal);
        return _parent && domain.Length > pattern.Length + 1 && domain.EndsWith(pattern, StringComparison.Ordinal)
            && domain[domain.Length - pattern.Length - 1] == '.';
    }

    private static string Normalize(string name) => name.Trim().TrimEnd('.').ToLowerInvariant();
}
