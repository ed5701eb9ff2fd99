using System.Security.Cryptography.X509Certificates;
using Posthorn.Core;

namespace Posthorn.Mail.Outbound;

/// <summary>smtp(8) TLS: what the client makes of the server certificate after the handshake.</summary>
public sealed partial class SmtpTransport
{
    private static readonly EnhancedStatus TlsPolicyFailed = new(4, 7, 5);

    /// <summary>Security level encrypt, verify or secure: never fall back to plaintext.</summary>
    private static bool TlsRequired(DeliveryState state) => state.Tls.Level >= SmtpTlsLevel.Encrypt;

    /// <summary>Sets <see cref="DeliveryState.Tls"/> for the servers of <paramref name="hop"/>: its smtp_tls_policy_maps
    /// entry, else smtp_tls_security_level.</summary>
    /// <returns>false when the table failed or held an invalid policy: every pending recipient is deferred (Postfix
    /// defers rather than guess a weaker policy).</returns>
    private bool ApplyTlsPolicy(DeliveryState state, NextHop hop)
    {
        state.Tls = new SmtpTlsPolicy(options.TlsLevel);
        if (options.TlsPolicyLookup is not { } lookup) return true;
        string? value = null;
        try
        {
            foreach (string key in SmtpTlsPolicy.LookupKeys(hop))
                if ((value = lookup(key)) is not null) break;
        }
        catch (Posthorn.Config.Tables.LookupTableException e)
        {
            log.Warning(Program, $"TLS policy lookup for {hop}: {e.Message}");
            state.SoftAll(LookupFailed, "TLS policy lookup error", "none", null, null);
            return false;
        }
        if (value is null) return true;
        if (!SmtpTlsPolicy.TryParse(value, out var policy, out string? error))
        {
            log.Warning(Program, $"{error} for {hop} in smtp_tls_policy_maps");
            state.SoftAll(TlsPolicyFailed, "client TLS configuration problem", "none", null, null);
            return false;
        }
        state.Tls = policy;
        return true;
    }

    private string Program => options.Lmtp ? "lmtp" : "smtp";

    private SmtpTlsVerifier CreateVerifier()
    {
        var verifier = new SmtpTlsVerifier(options.TlsCaFile, clock);
        if (verifier.LoadError is { } error) log.Warning(Program, error);
        return verifier;
    }

    /// <summary>Judges the certificate of a session that just completed STARTTLS and logs Postfix's TLS line.</summary>
    /// <returns>false when the security level refuses the certificate: the recipients are deferred, and the
    /// caller ends the session (the next server may still be tried, as after any site failure).</returns>
    /// <remarks>Postfix smtp(8) with smtp_tls_loglevel ≥ 1: "Untrusted|Trusted|Verified TLS connection established
    /// to host[addr]:port: TLSv1.3 with cipher X (256/256 bits)". Postfix smtp_proto.c at levels verify and secure:
    /// an unverified chain defers with "Server certificate not trusted" and a chain that verified but whose names
    /// did not match with "Server certificate not verified", both with dsn=4.7.5.</remarks>
    private bool AcceptServerCertificate(SmtpConnection conn, DeliveryState state)
    {
        var ssl = conn.Tls!;
        var server = conn.Server;
        string relay = server.ToString();
        using var leaf = ssl.RemoteCertificate is { } remote ? X509CertificateLoader.LoadCertificate(remote.GetRawCertData()) : null;
        string? chainProblem = "num=0:no certificate presented";
        bool trusted = leaf is not null && _verifier.Value.TryVerifyChain(leaf, conn.PeerIntermediates, out chainProblem);
        bool matched = false;
        var level = state.Tls.Level;
        bool checkName = level is SmtpTlsLevel.Verify or SmtpTlsLevel.Secure;
        if (trusted && checkName)
        {
            // Postfix: "hostname" is the MX host (or bracketed relay host); "nexthop" the destination domain.
            string nexthop = state.Hop?.Host ?? server.HostName;
            var rules = state.Tls.Match ?? (level == SmtpTlsLevel.Verify ? options.TlsVerifyCertMatch : options.TlsSecureCertMatch);
            var patterns = SmtpCertificateMatch.Patterns(rules, server.HostName, nexthop);
            matched = SmtpCertificateMatch.Matches(SmtpCertificateMatch.Names(leaf!), patterns);
        }
        if (checkName && !trusted) log.Info(Program, $"certificate verification failed for {relay}: {chainProblem}");
        else if (checkName && !matched) log.Info(Program, $"certificate verification failed for {relay}: num=62:hostname mismatch");

        var trust = matched ? SmtpTlsTrust.Verified : trusted ? SmtpTlsTrust.Trusted : SmtpTlsTrust.Untrusted;
        string suite = ssl.NegotiatedCipherSuite.ToString();
        int bits = CipherBits(suite);
        log.Info(Program, $"{trust} TLS connection established to {relay}: {ProtocolName(ssl.SslProtocol)} with cipher {suite} ({bits}/{bits} bits)");
        if (!checkName || matched) return true;
        state.SoftAll(TlsPolicyFailed, trusted ? "Server certificate not verified" : "Server certificate not trusted", relay, server.HostName, null);
        return false;
    }
}
