using System.Security.Cryptography.X509Certificates;

namespace Posthorn.Mail.Outbound;

/// <summary>How much smtp(8) could trust a server certificate, as its TLS log line says it.</summary>
public enum SmtpTlsTrust
{
    /// <summary>The chain did not verify: "Untrusted TLS connection established".</summary>
    Untrusted,
    /// <summary>The chain verified, no name was checked or none matched: "Trusted TLS connection established".</summary>
    Trusted,
    /// <summary>The chain verified and a certificate name matched: "Verified TLS connection established".</summary>
    Verified,
}

/// <summary>The certificate name rules of smtp_tls_verify_cert_match and smtp_tls_secure_cert_match.</summary>
/// <remarks>Postfix postconf(5), TLS_README "Server certificate verification":
/// <c>hostname</c> is the name of the server (the MX host, or the relay host written in brackets);
/// <c>nexthop</c> the next-hop domain; <c>dot-nexthop</c> any subdomain of it; any other word is a literal
/// name, and one that begins with "." matches its subdomains. Names compare case-insensitively, without a
/// trailing dot. A certificate's names are its subjectAltName dNSName entries, or its Common Name when it has
/// none (RFC 6125 §6.4.4). A wildcard "*.example.com" in the certificate stands for exactly one leftmost label
/// (RFC 6125 §6.4.3).</remarks>
public static class SmtpCertificateMatch
{
    /// <summary>The names to look for, in strategy order: <paramref name="strategies"/> with <c>hostname</c>,
    /// <c>nexthop</c> and <c>dot-nexthop</c> replaced by <paramref name="hostName"/>, <paramref name="nextHop"/>,
    /// "." + <paramref name="nextHop"/>.</summary>
    public static IReadOnlyList<string> Patterns(IEnumerable<string> strategies, string hostName, string nextHop)
    {
        var list = new List<string>();
        foreach (string s in strategies)
        {
            string p = s.Trim().ToLowerInvariant() switch
            {
                "hostname" => hostName,
                "nexthop" => nextHop,
                "dot-nexthop" => "." + Normalize(nextHop),
                var other => other,
            };
            p = Normalize(p);
            if (p.Length > 0 && p != "." && !list.Contains(p)) list.Add(p);
        }
        return list;
    }

    /// <summary>The DNS names of <paramref name="certificate"/>: subjectAltName dNSNames, else the Common Name.</summary>
    public static IReadOnlyList<string> Names(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (var ext in certificate.Extensions)
        {
            if (ext is X509SubjectAlternativeNameExtension san)
                names.AddRange(san.EnumerateDnsNames().Select(Normalize));
        }
        if (names.Count == 0)
        {
            string cn = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
            if (cn.Length > 0) names.Add(Normalize(cn));
        }
        return names;
    }

    /// <summary>True when one of <paramref name="certNames"/> matches one of <paramref name="patterns"/>.</summary>
    public static bool Matches(IEnumerable<string> certNames, IReadOnlyList<string> patterns) =>
        certNames.Any(n => patterns.Any(p => Matches(Normalize(n), p)));

    /// <summary>One certificate name against one pattern (both normalized).</summary>
    public static bool Matches(string certName, string pattern)
    {
        if (certName.Length == 0 || pattern.Length == 0) return false;
        bool wildcard = certName.StartsWith("*.", StringComparison.Ordinal);
        string baseName = wildcard ? certName[2..] : certName;
        if (baseName.Length == 0 || baseName.Contains('*')) return false;   // only a whole leftmost "*" label
        if (pattern[0] == '.')
        {
            // A subdomain of pattern[1..]: "mx.example.com" or "*.example.com" for ".example.com".
            string parent = pattern[1..];
            if (wildcard) return baseName == parent || baseName.EndsWith(pattern, StringComparison.Ordinal);
            return baseName.EndsWith(pattern, StringComparison.Ordinal) && baseName.Length > pattern.Length;
        }
        if (!wildcard) return baseName == pattern;
        // "*.example.com" matches "mx.example.com", not "example.com" nor "a.mx.example.com".
        int dot = pattern.IndexOf('.');
        return dot > 0 && pattern[(dot + 1)..] == baseName;
    }

    private static string Normalize(string name) => name.Trim().TrimEnd('.').ToLowerInvariant();
}
