using System.Net;

namespace Posthorn.Config.Tables;

/// <summary><c>cidr:FILE</c>: network blocks in CIDR notation, first match wins (Postfix cidr_table(5)).</summary>
/// <remarks>
/// Each logical line is <c>network/prefix result</c>, <c>address result</c> (one host), <c>!pattern result</c>,
/// <c>if pattern</c> / <c>if !pattern</c> … <c>endif</c>. IPv6 networks may be written with or without
/// <c>[]</c>. The key is a client address; a key that is not an address matches nothing; an IPv4-mapped
/// IPv6 key is matched as IPv4; a pattern of the other address family never matches, even negated. A bad line is skipped with Postfix's warning
/// "cidr map FILE, line N: …: skipping this rule" (a pattern with host bits set suggests the right one).
/// The file is read once, at open.
/// </remarks>
public sealed class CidrTable : ILookupTable
{
    private readonly ConditionalRules<NetworkList.Entry> _rules;

    private CidrTable(string name, ConditionalRules<NetworkList.Entry> rules)
    {
        Name = name;
        _rules = rules;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    /// <exception cref="LookupTableException">The file cannot be read.</exception>
    public static CidrTable Open(string path, LookupTableOptions options) =>
        Parse(LookupTables.ReadSource("cidr", path), path, options.Warn);

    /// <summary>Parses cidr_table(5) text; <paramref name="path"/> names it in warnings.</summary>
    public static CidrTable Parse(string text, string path, Action<string>? warn)
    {
        var rules = new ConditionalRules<NetworkList.Entry>();
        foreach (var logical in LogicalLines.Split(LogicalLines.Physical(text), path, warn))
        {
            string line = logical.Text;
            void Skip(string why) => warn?.Invoke($"cidr map {path}, line {logical.Line}: {why}: skipping this rule");
            var (keyword, rest) = LookupTables.SplitWord(line);
            if (keyword.Equals("endif", StringComparison.OrdinalIgnoreCase) && rest.Length == 0)
            {
                if (!rules.EndIf())
                    Skip("ignoring ENDIF without matching IF");
                continue;
            }
            bool isIf = keyword.Equals("if", StringComparison.OrdinalIgnoreCase);
            var (pattern, result) = isIf ? LookupTables.SplitWord(rest) : (keyword, rest);
            bool negated = pattern.StartsWith('!');
            if (negated)
                pattern = pattern[1..];
            if (!NetworkList.TryParseEntry(pattern, out var entry, out string? error))
            {
                Skip(error!);
                continue;
            }
            if (isIf)
            {
                if (result.Length > 0)
                    Skip($"garbage after IF pattern: \"{result}\"");
                else
                    rules.BeginIf(entry, negated, logical.Line);
            }
            else if (result.Length == 0)
                Skip("no lookup result");
            else
                rules.Add(entry, negated, result, logical.Line);
        }
        foreach (int line in rules.Unclosed())
            warn?.Invoke($"cidr map {path}, line {line}: IF has no matching ENDIF");
        return new CidrTable("cidr:" + path, rules);
    }

    /// <inheritdoc/>
    public bool TryLookup(string key, out string value)
    {
        value = "";
        if (!IPAddress.TryParse(key.Trim('[', ']'), out var address))
            return false;
        // DEVIATION: Postfix smtpd turns an IPv4-mapped client address into IPv4 before the lookup and the table
        // itself does not (postmap -q ::ffff:192.0.2.1 finds no IPv4 rule); Posthorn maps it here, for every caller.
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        // Postfix cidr_table(5), checked against Postfix 3.7: "!127.0.0.0/8" does not match "::1".
        var rule = _rules.FindFirst(e => NetworkList.InNetwork(e, address), e => e.Family == address.AddressFamily);
        if (rule is null)
            return false;
        value = rule.Result;
        return true;
    }
}
