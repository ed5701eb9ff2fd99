using Posthorn.Config.Tables;

namespace Posthorn.Mail.Rewrite;

/// <summary>cleanup(8)'s address rewriting: canonical mapping, masquerading, virtual alias expansion and the
/// automatic BCC recipients.</summary>
/// <remarks>
/// Standards: Postfix canonical(5), virtual(5), postconf(5) (masquerade_domains, always_bcc, sender_bcc_maps,
/// recipient_bcc_maps), ADDRESS_REWRITING_README "Canonical address mapping", "Address masquerading",
/// "Virtual aliasing".
/// Order as Postfix cleanup_envelope.c: sender_canonical_maps (or recipient_canonical_maps), then canonical_maps,
/// each only for the classes its *_classes parameter names, then masquerading (masquerade_classes); virtual
/// aliasing applies to envelope recipients only, after that.
/// Security: addresses come from untrusted clients; they are only used as lookup keys. Recursion and fan-out
/// are bounded (virtual_alias_recursion_limit, virtual_alias_expansion_limit, and 10 rounds of canonical mapping).
/// Parameters: see <see cref="RewriteSettings"/>.
/// </remarks>
public sealed class AddressRewriter(RewriteSettings settings)
{
    /// <summary>Postfix cleanup_map11.c MAX_RECURSION: the rounds of canonical mapping of one address.</summary>
    private const int CanonicalRecursionLimit = 10;

    public RewriteSettings Settings => settings;

    /// <summary>Rewrites one sender address (envelope or header, as <paramref name="cls"/> says): sender_canonical_maps,
    /// canonical_maps, masquerading. The null sender stays null.</summary>
    /// <exception cref="RewriteDeferredException">A table failed or nested too deep.</exception>
    public string RewriteSender(string address, AddressClasses cls) =>
        Rewrite(address, cls, settings.SenderCanonicalMaps, settings.SenderCanonicalClasses, "sender_canonical_maps");

    /// <summary>Rewrites one recipient address (envelope or header): recipient_canonical_maps, canonical_maps,
    /// masquerading (for header recipients by default; envelope recipients only when masquerade_classes says so).</summary>
    /// <exception cref="RewriteDeferredException">A table failed or nested too deep.</exception>
    public string RewriteRecipient(string address, AddressClasses cls) =>
        Rewrite(address, cls, settings.RecipientCanonicalMaps, settings.RecipientCanonicalClasses, "recipient_canonical_maps");

    private string Rewrite(string address, AddressClasses cls, IReadOnlyList<ILookupTable> ownMaps, AddressClasses ownClasses, string ownName)
    {
        if (address.Length == 0)
            return address;   // the null sender
        string a = address;
        if ((ownClasses & cls) != 0)
            a = Canonical(ownMaps, a, ownName);
        if ((settings.CanonicalClasses & cls) != 0)
            a = Canonical(settings.CanonicalMaps, a, "canonical_maps");
        if ((settings.MasqueradeClasses & cls) != 0)
            a = Masquerade(a);
        return a;
    }

    /// <summary>Postfix cleanup_map11.c: one-to-one mapping, repeated until the address maps to itself or no
    /// table has it. A multi-valued result uses its first address (with Postfix's warning).</summary>
    private string Canonical(IReadOnlyList<ILookupTable> maps, string address, string mapName)
    {
        if (maps.Count == 0)
            return address;
        string current = address;
        for (int round = 0; round < CanonicalRecursionLimit; round++)
        {
            List<string>? mapped;
            try
            {
                mapped = AddressMapper.Map(maps, current, settings.PropagateCanonical, settings);
            }
            catch (LookupTableException e)
            {
                throw new RewriteDeferredException(
                    $"{mapName} map lookup problem for {current} -- message not accepted, try again later ({e.Message})");
            }
            if (mapped is null)
                return current;
            string next = mapped[0];
            // Postfix: an address that maps to itself ends the recursion.
            if (string.Equals(next, current, StringComparison.OrdinalIgnoreCase))
                return next;
            current = next;
        }
        throw new RewriteDeferredException($"unreasonable {mapName} map nesting for {address} -- message not accepted, try again later");
    }

    /// <summary>Postfix postconf(5) masquerade_domains: <c>user@host.example.com</c> becomes <c>user@example.com</c>
    /// for the first listed domain the address's domain is a strict subdomain of; a listed domain equal to the
    /// address's domain, or a <c>!domain</c> entry that matches, stops the search without change. Local parts in
    /// masquerade_exceptions are left alone.</summary>
    public string Masquerade(string address)
    {
        if (settings.MasqueradeDomains.Count == 0)
            return address;
        int at = address.LastIndexOf('@');
        if (at < 0)
            return address;
        string local = address[..at];
        string domain = address[(at + 1)..].TrimEnd('.');
        if (settings.MasqueradeExceptions.Contains(local))
            return address;
        foreach (string entry in settings.MasqueradeDomains)
        {
            bool excluded = entry.StartsWith('!');
            string masq = (excluded ? entry[1..] : entry).TrimEnd('.');
            if (masq.Length == 0)
                continue;
            if (masq.Length == domain.Length)
            {
                if (string.Equals(masq, domain, StringComparison.OrdinalIgnoreCase))
                    return address;
            }
            else if (masq.Length < domain.Length && domain[domain.Length - masq.Length - 1] == '.'
                && domain.EndsWith(masq, StringComparison.OrdinalIgnoreCase))
            {
                return excluded ? address : $"{local}@{masq}";
            }
        }
        return address;
    }

    /// <summary>Postfix cleanup_map1n.c: virtual alias expansion of one envelope recipient. Each result is looked
    /// up again; an address that maps to itself (virtual(5): "to terminate recursion for a specific address,
    /// alias that address to itself") is kept and not expanded further. Returns the address itself when no
    /// table has it.</summary>
    /// <exception cref="RewriteDeferredException">A table failed, or the expansion went beyond
    /// virtual_alias_recursion_limit or virtual_alias_expansion_limit.</exception>
    public IReadOnlyList<string> ExpandVirtual(string address)
    {
        var maps = settings.VirtualAliasMaps;
        if (maps.Count == 0)
            return [address];
        var list = new List<string> { address };
        var selfExpanded = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < list.Count; i++)
        {
            if (list.Count > settings.VirtualAliasExpansionLimit)
                throw new RewriteDeferredException(
                    $"unreasonable virtual_alias_maps map expansion size for {address} -- message not accepted, try again later");
            for (int count = 0; ; count++)
            {
                // Postfix: "Don't expand an address that already expanded into itself."
                if (selfExpanded.Contains(list[i]))
                    break;
                if (count >= settings.VirtualAliasRecursionLimit)
                    throw new RewriteDeferredException(
                        $"unreasonable virtual_alias_maps map nesting for {address} -- message not accepted, try again later");
                List<string>? mapped;
                try
                {
                    mapped = AddressMapper.Map(maps, list[i], settings.PropagateVirtual, settings);
                }
                catch (LookupTableException e)
                {
                    throw new RewriteDeferredException(
                        $"virtual_alias_maps map lookup problem for {list[i]} -- message not accepted, try again later ({e.Message})");
                }
                if (mapped is null)
                    break;
                string lhs = list[i];
                for (int k = 0; k < mapped.Count; k++)
                {
                    if (k == 0) list[i] = mapped[k];
                    else list.Add(mapped[k]);
                    if (string.Equals(lhs, mapped[k], StringComparison.OrdinalIgnoreCase))
                        selfExpanded.Add(lhs);
                }
            }
        }
        return list;
    }

    /// <summary>Postfix sender_bcc_maps: the BCC address for <paramref name="sender"/> (the first of a list), or null.</summary>
    /// <exception cref="RewriteDeferredException">A table failed.</exception>
    public string? SenderBcc(string sender) => Bcc(settings.SenderBccMaps, sender, "sender_bcc_maps");

    /// <summary>Postfix recipient_bcc_maps: the BCC address for <paramref name="recipient"/>, or null.</summary>
    /// <exception cref="RewriteDeferredException">A table failed.</exception>
    public string? RecipientBcc(string recipient) => Bcc(settings.RecipientBccMaps, recipient, "recipient_bcc_maps");

    private string? Bcc(IReadOnlyList<ILookupTable> maps, string address, string mapName)
    {
        if (maps.Count == 0 || address.Length == 0)
            return null;
        try
        {
            // Postfix cleanup_envelope.c: BCC maps are looked up without extension propagation.
            return AddressMapper.Map(maps, address, propagate: false, settings)?[0];
        }
        catch (LookupTableException e)
        {
            throw new RewriteDeferredException(
                $"{mapName} map lookup problem for {address} -- message not accepted, try again later ({e.Message})");
        }
    }
}
