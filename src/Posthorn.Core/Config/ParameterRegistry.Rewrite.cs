namespace Posthorn.Config;

public static partial class ParameterRegistry
{
    /// <summary>Address rewriting: canonical, virtual aliases, relocated, recipient tables.</summary>
    private static IEnumerable<Parameter> RewriteParameters() =>
    [
        // Address rewriting and lookup tables.
        Maps("alias_maps", "hash:/etc/aliases", "Alias databases for local(8) delivery."),
        Maps("alias_database", "hash:/etc/aliases", "Alias databases built by newaliases."),
        Maps("canonical_maps", "", "Address mapping for envelope and header addresses."),
        Maps("sender_canonical_maps", "", "Address mapping for sender addresses."),
        Maps("recipient_canonical_maps", "", "Address mapping for recipient addresses."),
        Maps("relocated_maps", "", "Tables of users who moved."),
        Maps("virtual_alias_maps", "$virtual_maps", "Aliases for all domains."),
        Maps("virtual_maps", "", "Obsolete name of virtual_alias_maps."),
        List("virtual_alias_domains", "$virtual_alias_maps", "Domains that exist only as aliases."),
        Maps("local_recipient_maps", "proxy:unix:passwd.byname $alias_maps", "Known local recipients; others are rejected."),
        Maps("relay_recipient_maps", "", "Known recipients in relay_domains."),
        Bool("owner_request_special", "yes", "Treat owner-list and list-request specially."),
        Bool("expand_owner_alias", "no", "Use the owner-alias expansion as sender of alias mail."),
        List("canonical_classes", "envelope_sender, envelope_recipient, header_sender, header_recipient",
            "Addresses that canonical_maps applies to."),
        List("sender_canonical_classes", "envelope_sender, header_sender", "Addresses that sender_canonical_maps applies to."),
        List("recipient_canonical_classes", "envelope_recipient, header_recipient",
            "Addresses that recipient_canonical_maps applies to."),
        List("masquerade_exceptions", "", "User names that are never masqueraded."),
        List("masquerade_classes", "envelope_sender, header_sender, header_recipient", "Addresses that masquerading applies to."),
        // postconf(5) default_filter_nexthop (Postfix 2.7): next hop of a content_filter/FILTER without one.
        Text("default_filter_nexthop", "", "Next hop of a content filter that names none; empty: the recipient domain."),
        Num("virtual_alias_recursion_limit", "1000", "Most nesting levels of virtual alias expansion."),
        Num("virtual_alias_expansion_limit", "1000", "Most addresses one virtual alias expansion may produce."),
        Maps("sender_bcc_maps", "", "BCC address for each sender."),
        Maps("recipient_bcc_maps", "", "BCC address for each recipient."),
    ];
}
