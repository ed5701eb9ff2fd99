using System.Security.Authentication;

namespace Posthorn.Smtp;

/// <summary>Postfix smtpd_tls_security_level (postconf(5)).</summary>
public enum SmtpTlsSecurityLevel : byte
{
    /// <summary>No STARTTLS (also the empty value: Posthorn has no legacy smtpd_use_tls).</summary>
    None,
    /// <summary>Opportunistic TLS: STARTTLS is offered, not required.</summary>
    May,
    /// <summary>Mandatory TLS: everything but HELO, EHLO, STARTTLS, NOOP and QUIT gets
    /// <c>530 5.7.0 Must issue a STARTTLS command first</c> until TLS is on.</summary>
    Encrypt,
}

/// <summary>Parses Postfix's TLS protocol lists (smtpd_tls_protocols, smtpd_tls_mandatory_protocols).</summary>
/// <remarks>
/// Postfix postconf(5): a list of protocol names to include ("TLSv1.2, TLSv1.3"), names to exclude
/// ("!SSLv2, !SSLv3"), or since Postfix 3.6 bounds (">=TLSv1.2", "&lt;=TLSv1.3"); separators are
/// space, comma and colon. Names: SSLv2, SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3.
/// DEVIATION: the platform offers only TLSv1.2 and TLSv1.3 (the older ones are obsolete in .NET and
/// disabled in current OpenSSL), so a list that enables only older protocols is refused.
/// </remarks>
public static class TlsProtocolList
{
    private static readonly string[] Names = ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

    /// <summary>The enabled protocols among TLSv1.2 and TLSv1.3; <see cref="SslProtocols.None"/> (the
    /// system's choice) when the list allows both. False for an unknown name or an empty result.</summary>
    public static bool TryParse(string value, out SslProtocols protocols)
    {
        protocols = SslProtocols.None;
        bool anyIncluded = false;
        var included = new bool[Names.Length];
        var excluded = new bool[Names.Length];
        int low = 0, high = Names.Length - 1;
        foreach (var raw in value.Split([' ', ',', ':', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            string token = raw;
            if (token.StartsWith(">=", StringComparison.Ordinal) || token.StartsWith("<=", StringComparison.Ordinal))
            {
                int bound = Index(token[2..]);
                if (bound < 0) return false;
                if (token[0] == '>') low = Math.Max(low, bound);
                else high = Math.Min(high, bound);
                continue;
            }
            bool exclude = token.StartsWith('!');
            int i = Index(exclude ? token[1..] : token);
            if (i < 0) return false;
            if (exclude) excluded[i] = true;
            else { included[i] = true; anyIncluded = true; }
        }
        bool tls12 = Enabled(4), tls13 = Enabled(5);
        if (!tls12 && !tls13) return false;
        protocols = tls12 && tls13 ? SslProtocols.None : tls12 ? SslProtocols.Tls12 : SslProtocols.Tls13;
        return true;

        bool Enabled(int i) => i >= low && i <= high && !excluded[i] && (!anyIncluded || included[i]);
    }

    private static int Index(string name)
    {
        for (int i = 0; i < Names.Length; i++)
            if (string.Equals(Names[i], name, StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }
}
