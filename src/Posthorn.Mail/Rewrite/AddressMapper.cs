using Posthorn.Config.Tables;

namespace Posthorn.Mail.Rewrite;

/// <summary>Postfix mail_addr_map(3): one table lookup of an address, with the key order of canonical(5) and
/// virtual(5), <c>@domain</c> results and address-extension propagation.</summary>
/// <remarks>
/// Keys (<see cref="LookupKeys.ForAddress"/>): <c>user+ext@domain</c>, <c>user@domain</c>, then for a domain of
/// this host <c>user+ext</c>, <c>user</c>, and last <c>@domain</c>.
/// A result is a list of addresses separated by commas or white space. Postfix canonical(5) "@domain address":
/// a result of the form <c>@otherdomain</c> keeps the original local part (extension included). When the hit
/// was on a key without the extension and propagation is on (propagate_unmatched_extensions), the extension is
/// put back into each result's local part. An unqualified result is qualified with $myorigin.
/// </remarks>
internal static class AddressMapper
{
    /// <summary>The addresses <paramref name="address"/> maps to, or null when no table has it.</summary>
    /// <exception cref="LookupTableException">A table failed before a hit.</exception>
    public static List<string>? Map(IReadOnlyList<ILookupTable> tables, string address, bool propagate, RewriteSettings s)
    {
        if (tables.Count == 0 || address.Length == 0)
            return null;
        int at = address.LastIndexOf('@');
        string local = at < 0 ? address : address[..at];
        string domain = at < 0 ? "" : address[(at + 1)..];
        bool localDomain = at < 0 || s.IsLocalDomain(domain);
        var keys = LookupKeys.ForAddress(address, s.RecipientDelimiter, localDomain);
        if (!LookupKeys.TryFind(tables, keys, out string key, out string value))
            return null;

        // The extension, when the hit was on the unextended user@domain or user key.
        string extension = "";
        int d = s.RecipientDelimiter.Length == 0 ? -1 : local.AsSpan().IndexOfAny(s.RecipientDelimiter);
        if (propagate && d > 0)
        {
            string bare = local[..d];
            if (string.Equals(key, bare, StringComparison.OrdinalIgnoreCase)
                || string.Equals(key, $"{bare}@{domain}", StringComparison.OrdinalIgnoreCase))
                extension = local[d..];
        }

        var result = new List<string>();
        foreach (string item in value.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            string a = item.Trim();
            if (a.Length > 1 && a[0] == '<' && a[^1] == '>')
                a = a[1..^1];
            if (a.Length == 0)
                continue;
            if (a[0] == '@')
            {
                // Postfix mail_addr_map.c: "Prepend the original address localpart", without propagating the
                // extension a second time.
                result.Add(local + a);
                continue;
            }
            int rat = a.LastIndexOf('@');
            if (extension.Length > 0)
                a = rat < 0 ? a + extension : a[..rat] + extension + a[rat..];
            result.Add(a.LastIndexOf('@') < 0 ? $"{a}@{s.MyOrigin}" : a);
        }
        return result.Count == 0 ? null : result;
    }
}
