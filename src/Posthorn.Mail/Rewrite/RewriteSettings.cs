using Posthorn.Config;
using Posthorn.Config.Tables;

namespace Posthorn.Mail.Rewrite;

/// <summary>Where an address sits, for the *_classes parameters (Postfix postconf(5) canonical_classes,
/// masquerade_classes).</summary>
[Flags]
public enum AddressClasses
{
    None = 0,
    EnvelopeSender = 1,
    EnvelopeRecipient = 2,
    HeaderSender = 4,
    HeaderRecipient = 8,
}

/// <summary>The address-rewriting settings cleanup(8) runs with, and the tables they name, opened once per
/// configuration snapshot.</summary>
/// <remarks>Parameters: canonical_maps, sender_canonical_maps, recipient_canonical_maps, canonical_classes,
/// sender_canonical_classes, recipient_canonical_classes, masquerade_domains, masquerade_exceptions,
/// masquerade_classes, virtual_alias_maps, virtual_alias_recursion_limit, virtual_alias_expansion_limit,
/// propagate_unmatched_extensions, recipient_delimiter, always_bcc, sender_bcc_maps, recipient_bcc_maps,
/// myorigin, mydestination (which addresses also get the <c>user</c> lookup keys).
/// A table that cannot be opened becomes a failing one (Postfix's surrogate table): mail is deferred, never
/// passed through unrewritten.</remarks>
public sealed class RewriteSettings
{
    public IReadOnlyList<ILookupTable> CanonicalMaps { get; init; } = [];
    public IReadOnlyList<ILookupTable> SenderCanonicalMaps { get; init; } = [];
    public IReadOnlyList<ILookupTable> RecipientCanonicalMaps { get; init; } = [];
    public IReadOnlyList<ILookupTable> VirtualAliasMaps { get; init; } = [];
    public IReadOnlyList<ILookupTable> SenderBccMaps { get; init; } = [];
    public IReadOnlyList<ILookupTable> RecipientBccMaps { get; init; } = [];

    public AddressClasses CanonicalClasses { get; init; } =
        AddressClasses.EnvelopeSender | AddressClasses.EnvelopeRecipient | AddressClasses.HeaderSender | AddressClasses.HeaderRecipient;
    public AddressClasses SenderCanonicalClasses { get; init; } = AddressClasses.EnvelopeSender | AddressClasses.HeaderSender;
    public AddressClasses RecipientCanonicalClasses { get; init; } = AddressClasses.EnvelopeRecipient | AddressClasses.HeaderRecipient;
    public AddressClasses MasqueradeClasses { get; init; } =
        AddressClasses.EnvelopeSender | AddressClasses.HeaderSender | AddressClasses.HeaderRecipient;

    /// <summary>masquerade_domains in order; an entry starting with '!' is an exclusion.</summary>
    public IReadOnlyList<string> MasqueradeDomains { get; init; } = [];
    /// <summary>masquerade_exceptions: local parts never masqueraded.</summary>
    public IReadOnlySet<string> MasqueradeExceptions { get; init; } = new HashSet<string>();

    public string RecipientDelimiter { get; init; } = "";
    /// <summary>propagate_unmatched_extensions contains <c>canonical</c>.</summary>
    public bool PropagateCanonical { get; init; } = true;
    /// <summary>propagate_unmatched_extensions contains <c>virtual</c>.</summary>
    public bool PropagateVirtual { get; init; } = true;
    public int VirtualAliasRecursionLimit { get; init; } = 1000;
    public int VirtualAliasExpansionLimit { get; init; } = 1000;
    /// <summary>always_bcc, or empty.</summary>
    public string AlwaysBcc { get; init; } = "";

    /// <summary>myorigin: the domain of unqualified table results.</summary>
    public string MyOrigin { get; init; } = "localhost";

    /// <summary>Whether a domain is this host's ($myorigin, $mydestination): then <c>user</c> keys are tried too
    /// (Postfix virtual(5), canonical(5) TABLE FORMAT).</summary>
    public Func<string, bool> IsLocalDomain { get; init; } = _ => false;

    /// <summary>No rewriting configured: cleanup can skip the address work.</summary>
    public bool IsEmpty => CanonicalMaps.Count == 0 && SenderCanonicalMaps.Count == 0 && RecipientCanonicalMaps.Count == 0
        && VirtualAliasMaps.Count == 0 && SenderBccMaps.Count == 0 && RecipientBccMaps.Count == 0
        && MasqueradeDomains.Count == 0 && AlwaysBcc.Length == 0;

    /// <summary>No rewriting at all.</summary>
    public static RewriteSettings None { get; } = new();

    /// <summary>Reads the parameters of <paramref name="cfg"/> and opens the tables they name.</summary>
    public static RewriteSettings From(ConfigSnapshot cfg)
    {
        IReadOnlyList<ILookupTable> Maps(string p) =>
            [.. cfg.GetList(p).Select(spec => LookupTables.OpenOrFail(spec, cfg.TableOptions))];
        var propagate = cfg.GetList("propagate_unmatched_extensions");
        var mydestination = cfg.MyDestination();
        string myorigin = cfg.Get("myorigin");
        return new RewriteSettings
        {
            CanonicalMaps = Maps("canonical_maps"),
            SenderCanonicalMaps = Maps("sender_canonical_maps"),
            RecipientCanonicalMaps = Maps("recipient_canonical_maps"),
            VirtualAliasMaps = Maps("virtual_alias_maps"),
            SenderBccMaps = Maps("sender_bcc_maps"),
            RecipientBccMaps = Maps("recipient_bcc_maps"),
            CanonicalClasses = ParseClasses(cfg.GetList("canonical_classes")),
            SenderCanonicalClasses = ParseClasses(cfg.GetList("sender_canonical_classes")),
            RecipientCanonicalClasses = ParseClasses(cfg.GetList("recipient_canonical_classes")),
            MasqueradeClasses = ParseClasses(cfg.GetList("masquerade_classes")),
            MasqueradeDomains = cfg.GetList("masquerade_domains"),
            MasqueradeExceptions = cfg.GetList("masquerade_exceptions").ToHashSet(StringComparer.OrdinalIgnoreCase),
            RecipientDelimiter = cfg.Get("recipient_delimiter"),
            PropagateCanonical = propagate.Contains("canonical", StringComparer.OrdinalIgnoreCase),
            PropagateVirtual = propagate.Contains("virtual", StringComparer.OrdinalIgnoreCase),
            VirtualAliasRecursionLimit = (int)cfg.GetNumber("virtual_alias_recursion_limit"),
            VirtualAliasExpansionLimit = (int)cfg.GetNumber("virtual_alias_expansion_limit"),
            AlwaysBcc = cfg.Get("always_bcc").Trim(),
            MyOrigin = myorigin,
            IsLocalDomain = d => string.Equals(d.TrimEnd('.'), myorigin, StringComparison.OrdinalIgnoreCase) || mydestination.Matches(d),
        };
    }

    /// <summary>Postfix postconf(5): the class names envelope_sender, envelope_recipient, header_sender,
    /// header_recipient; others are ignored.</summary>
    public static AddressClasses ParseClasses(IEnumerable<string> names)
    {
        var classes = AddressClasses.None;
        foreach (string n in names)
        {
            classes |= n.ToLowerInvariant() switch
            {
                "envelope_sender" => AddressClasses.EnvelopeSender,
                "envelope_recipient" => AddressClasses.EnvelopeRecipient,
                "header_sender" => AddressClasses.HeaderSender,
                "header_recipient" => AddressClasses.HeaderRecipient,
                _ => AddressClasses.None,
            };
        }
        return classes;
    }
}
