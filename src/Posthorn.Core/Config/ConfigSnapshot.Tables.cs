using Posthorn.Config.Tables;

namespace Posthorn.Config;

public sealed partial class ConfigSnapshot
{
    /// <summary>Adds a warning to <see cref="Warnings"/> (lookup tables opened for this snapshot report through it).</summary>
    internal void AddWarning(string warning) => _warnings.Add(warning);

    /// <summary>Options for tables opened for this snapshot: warnings go to <see cref="Warnings"/>.</summary>
    public LookupTableOptions TableOptions => new() { Warn = AddWarning };

    /// <summary>relay_domains as a <see cref="DomainList"/>: names, <c>/file</c> and <c>type:table</c> entries,
    /// matching subdomains when relay_domains is in parent_domain_matches_subdomains (the default).</summary>
    public DomainList RelayDomains() => DomainListOf("relay_domains");

    /// <summary>Any domain-list parameter (mydestination, relay_domains, virtual_alias_domains…) as a
    /// <see cref="DomainList"/> honouring parent_domain_matches_subdomains for that parameter. A table that
    /// cannot be opened is replaced by a failing one after a warning (lookups then fail temporarily).</summary>
    public DomainList DomainListOf(string parameter) =>
        DomainList.Parse(GetList(parameter), LookupKeys.ParentDomainMatchesSubdomains(this, parameter), TableOptions,
            w => _warnings.Add($"{MainCfPath}: {parameter}: {w}"));
}
