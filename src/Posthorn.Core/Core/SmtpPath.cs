namespace Posthorn.Core;

/// <summary>An envelope address (RFC 5321 §4.1.2 Path without the angle brackets), or the null path <c>&lt;&gt;</c>.</summary>
/// <remarks>The local part is kept as received (quoted form included); the domain is kept as written
/// and compared case-insensitively. An unqualified address (no <c>@</c>) has an empty domain.</remarks>
public sealed record SmtpPath(string LocalPart, string Domain)
{
    /// <summary>The null reverse-path <c>&lt;&gt;</c> used by bounces (RFC 5321 §4.5.5).</summary>
    public static readonly SmtpPath Null = new("", "");

    public bool IsNull => LocalPart.Length == 0 && Domain.Length == 0;
    public bool IsQualified => Domain.Length > 0;

    /// <summary>Splits <c>local@domain</c> at the last '@' outside quotes; no syntax check beyond that.</summary>
    public static SmtpPath FromAddress(string address)
    {
        if (address.Length == 0) return Null;
        int at = address.LastIndexOf('@');
        int quote = address.LastIndexOf('"');
        return at > quote && at >= 0 ? new SmtpPath(address[..at], address[(at + 1)..]) : new SmtpPath(address, "");
    }

    public SmtpPath WithDomain(string domain) => this with { Domain = domain };

    public bool DomainIs(string domain) => string.Equals(Domain, domain, StringComparison.OrdinalIgnoreCase);

    /// <summary><c>local@domain</c>, <c>local</c> when unqualified, empty for the null path.</summary>
    public override string ToString() => Domain.Length == 0 ? LocalPart : $"{LocalPart}@{Domain}";
}
