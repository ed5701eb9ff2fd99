namespace Posthorn.Config.Tables;

/// <summary>The keys Postfix tries, in order, when it looks up an address or a host name in a table:
/// one shared place for every component that does such lookups.</summary>
public static class LookupKeys
{
    /// <summary>Address order of virtual(5), canonical(5) and transport-style maps: <c>user+ext@domain</c>,
    /// <c>user@domain</c>, then (only when <paramref name="localDomain"/>: the domain is $myorigin, $mydestination,
    /// $inet_interfaces or $proxy_interfaces) <c>user+ext</c>, <c>user</c>, and last <c>@domain</c>.</summary>
    /// <remarks>Postfix virtual(5) TABLE FORMAT; the extension forms exist only when
    /// <paramref name="recipientDelimiter"/> is set and the local part contains one of its characters.
    /// Keys are given as written; case folding is the table's business. An address without '@' yields
    /// <c>user+ext</c>, <c>user</c>.</remarks>
    public static IReadOnlyList<string> ForAddress(string address, string recipientDelimiter = "", bool localDomain = true)
    {
        int at = address.LastIndexOf('@');
        string local = at < 0 ? address : address[..at];
        string? domain = at < 0 ? null : address[(at + 1)..];
        string? bare = StripExtension(local, recipientDelimiter);
        var keys = new List<string>(5);
        if (domain is not null)
        {
            keys.Add(address);
            if (bare is not null)
                keys.Add($"{bare}@{domain}");
        }
        if (domain is null || localDomain)
        {
            keys.Add(local);
            if (bare is not null)
                keys.Add(bare);
        }
        if (domain is not null)
            keys.Add("@" + domain);
        return keys;
    }

    /// <summary>Address order of access(5): <c>user@domain</c>, then the domain as <see cref="ForDomain"/> gives
    /// it, then <c>user@</c>.</summary>
    /// <remarks>Postfix access(5) EMAIL ADDRESS PATTERNS; with a recipient delimiter the unextended forms follow
    /// each extended one (<c>user+ext@domain</c>, <c>user@domain</c>, …, <c>user+ext@</c>, <c>user@</c>).</remarks>
    public static IReadOnlyList<string> ForAccessAddress(string address, bool parentMatchesSubdomains, string recipientDelimiter = "")
    {
        int at = address.LastIndexOf('@');
        var keys = new List<string>();
        if (at < 0)
        {
            keys.Add(address + "@");
            return keys;
        }
        string local = address[..at], domain = address[(at + 1)..];
        string? bare = StripExtension(local, recipientDelimiter);
        keys.Add(address);
        if (bare is not null)
            keys.Add($"{bare}@{domain}");
        if (domain.Length > 0)
            keys.AddRange(ForDomain(domain, parentMatchesSubdomains));
        keys.Add(local + "@");
        if (bare is not null)
            keys.Add(bare + "@");
        return keys;
    }

    /// <summary>Host name order: <c>sub.domain.tld</c>, then each parent domain — <c>domain.tld</c>, <c>tld</c>
    /// when <paramref name="parentMatchesSubdomains"/>, else <c>.domain.tld</c>, <c>.tld</c>.</summary>
    /// <remarks>Postfix access(5) DOMAIN NAME PATTERNS and postconf(5) parent_domain_matches_subdomains:
    /// "domain.tld" also matches subdomains only for the features listed there; otherwise ".domain.tld" is needed.
    /// A trailing dot of the name is ignored.</remarks>
    public static IReadOnlyList<string> ForDomain(string domain, bool parentMatchesSubdomains)
    {
        string name = domain.TrimEnd('.');
        var keys = new List<string> { name };
        for (int dot = name.IndexOf('.'); dot >= 0 && dot < name.Length - 1; dot = name.IndexOf('.', dot + 1))
            keys.Add(parentMatchesSubdomains ? name[(dot + 1)..] : name[dot..]);
        return keys;
    }

    /// <summary>Whether <paramref name="feature"/> (a parameter name such as <c>relay_domains</c> or
    /// <c>smtpd_access_maps</c>) is listed in parent_domain_matches_subdomains.</summary>
    public static bool ParentDomainMatchesSubdomains(ConfigSnapshot cfg, string feature) =>
        cfg.GetList("parent_domain_matches_subdomains").Contains(feature, StringComparer.Ordinal);

    /// <summary>Tries <paramref name="keys"/> in order against <paramref name="tables"/> (each key in every table
    /// before the next key, as Postfix maps(3) does for one key); the first hit wins.</summary>
    /// <exception cref="LookupTableException">A table failed before a hit.</exception>
    public static bool TryFind(IReadOnlyList<ILookupTable> tables, IEnumerable<string> keys, out string key, out string value)
    {
        foreach (string k in keys)
        {
            if (LookupTables.TryLookup(tables, k, out value))
            {
                key = k;
                return true;
            }
        }
        key = value = "";
        return false;
    }

    /// <summary>The local part without its extension, or null when there is none.</summary>
    private static string? StripExtension(string local, string delimiters)
    {
        if (delimiters.Length == 0)
            return null;
        int d = local.AsSpan().IndexOfAny(delimiters);
        return d > 0 ? local[..d] : null;
    }
}
