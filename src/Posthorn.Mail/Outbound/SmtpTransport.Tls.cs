using System.Security.Cryptography.X509Certificates;
using Posthorn.Core;

namespace Posthorn.Mail.Outbound;

/// <summary>smtp(8) TLS: what the client makes of the server certificate after the handshake.</summary>
public sealed partial class SmtpTransport
{
    private static readonly EnhancedStatus TlsPolicyFailed = new(4, 7, 5);

    /// <summary>smtp_tls_security_level encrypt, verify or secure: never fall back to plaintext.</summary>
    private bool TlsRequired => options.TlsLevel >= SmtpTlsLevel.Encrypt;

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
        bool checkName = options.TlsLevel is SmtpTlsLevel.Verify or SmtpTlsLevel.Secure;
        if (trusted && checkName)
        {
            // Postfix: "hostname" is the MX host (or bracketed relay host); "nexthop" the destination domain.
            string nexthop = state.Hop?.Host ?? server.HostName;
            var rules = options.TlsLevel == SmtpTlsLevel.Verify ? options.TlsVerifyCertMatch : options.TlsSecureCertMatch;
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
