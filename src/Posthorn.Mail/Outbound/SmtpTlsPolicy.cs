namespace Posthorn.Mail.Outbound;

/// <summary>One destination's TLS policy: the security level and, for verify and secure, the certificate match
/// rules (null: smtp_tls_verify_cert_match or smtp_tls_secure_cert_match).</summary>
public sealed record SmtpTlsPolicy(SmtpTlsLevel Level, IReadOnlyList<string>? Match = null)
{
    /// <summary>Parses a smtp_tls_policy_maps value: <c>level [name=value …]</c>.</summary>
    /// <remarks>Postfix postconf(5) smtp_tls_policy_maps: the levels none, may, encrypt, verify, secure (and dane,
    /// dane-only, fingerprint); for verify and secure <c>match=</c> takes a ":"-separated list of hostname, nexthop,
    /// dot-nexthop or literal names. DEVIATION: dane and dane-only act as encrypt (no TLSA lookups); fingerprint
    /// is refused (its match= holds certificate digests, which Posthorn does not check); the other attributes
    /// (ciphers=, protocols=, exclude=, tafile=) are accepted and ignored.</remarks>
    /// <param name="error">Why the value was refused, for the warning.</param>
    public static bool TryParse(string value, out SmtpTlsPolicy policy, out string? error)
    {
        policy = new SmtpTlsPolicy(SmtpTlsLevel.May);
        error = null;
        var words = value.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
        {
            error = "empty TLS policy";
            return false;
        }
        SmtpTlsLevel level;
        switch (words[0].ToLowerInvariant())
        {
            case "none": level = SmtpTlsLevel.None; break;
            case "may": level = SmtpTlsLevel.May; break;
            case "encrypt" or "dane" or "dane-only": level = SmtpTlsLevel.Encrypt; break;
            case "verify": level = SmtpTlsLevel.Verify; break;
            case "secure": level = SmtpTlsLevel.Secure; break;
            default:
                error = $"invalid TLS security level \"{words[0]}\"";
                return false;
        }
        List<string>? match = null;
        foreach (string w in words.Skip(1))
        {
            int eq = w.IndexOf('=');
            if (eq <= 0)
            {
                error = $"malformed TLS policy attribute \"{w}\"";
                return false;
            }
            if (w[..eq].Equals("match", StringComparison.OrdinalIgnoreCase) && level >= SmtpTlsLevel.Verify)
                (match ??= []).AddRange(w[(eq + 1)..].Split(':', StringSplitOptions.RemoveEmptyEntries));
        }
        policy = new SmtpTlsPolicy(level, match);
        return true;
    }

    /// <summary>The smtp_tls_policy_maps keys for <paramref name="hop"/>, in lookup order.</summary>
    /// <remarks>Postfix postconf(5): the key is the next hop verbatim, brackets and non-default port included; for a
    /// bare domain not found, "the parent domain starting with a leading "." is matched recursively".</remarks>
    public static IReadOnlyList<string> LookupKeys(NextHop hop)
    {
        var keys = new List<string> { hop.ToString() };
        if (hop.SkipMx || hop.Port != NextHop.SmtpPort) return keys;
        for (int dot = hop.Host.IndexOf('.'); dot >= 0 && dot < hop.Host.Length - 1; dot = hop.Host.IndexOf('.', dot + 1))
            keys.Add(hop.Host[dot..]);
        return keys;
    }
}
