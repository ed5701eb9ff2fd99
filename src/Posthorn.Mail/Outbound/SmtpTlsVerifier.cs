using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Posthorn.Mail.Outbound;

/// <summary>Checks a server's certificate chain against smtp_tls_CAfile (or the system's trust store) and its
/// names against the smtp_tls_*_cert_match rules (<see cref="SmtpCertificateMatch"/>).</summary>
/// <remarks>Postfix TLS_README "Server certificate verification": the handshake always completes; what the
/// client then trusts is decided here, and at levels verify and secure a certificate that is not trusted or
/// not matched ends the session with a deferral. Revocation is not checked (Postfix does not either).
/// DEVIATION: with smtp_tls_CAfile empty the system's trust store is used (Postfix, with
/// tls_append_default_CA = no, would trust no CA at all).</remarks>
internal sealed class SmtpTlsVerifier
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private readonly X509Certificate2Collection? _anchors;
    private readonly TimeProvider _clock;

    /// <param name="caFile">PEM bundle of trusted CAs; null or empty: the system's trust store.</param>
    public SmtpTlsVerifier(string? caFile, TimeProvider clock)
    {
        _clock = clock;
        if (string.IsNullOrEmpty(caFile)) return;
        _anchors = [];
        try
        {
            _anchors.ImportFromPemFile(caFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            // Postfix: "cannot load Certification Authority data"; nothing is trusted then.
            LoadError = $"cannot load Certification Authority data from {caFile}: {e.Message}";
            _anchors.Clear();
        }
    }

    /// <summary>Why smtp_tls_CAfile could not be read, or null.</summary>
    public string? LoadError { get; }

    /// <summary>Builds the chain of <paramref name="leaf"/> with the intermediates the server sent.</summary>
    /// <param name="problem">When false: Postfix's OpenSSL wording, e.g. <c>num=20:unable to get local issuer certificate</c>.</param>
    public bool TryVerifyChain(X509Certificate2 leaf, IReadOnlyList<X509Certificate2> intermediates, out string? problem)
    {
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.RevocationMode = X509RevocationMode.NoCheck;
        // No fetching of missing issuers from the certificate's AIA URLs: a peer must not make the client go online.
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = _clock.GetUtcNow().UtcDateTime;
        policy.ApplicationPolicy.Add(ServerAuth);
        foreach (var c in intermediates) policy.ExtraStore.Add(c);
        if (_anchors is not null)
        {
            policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            policy.CustomTrustStore.AddRange(_anchors);
        }
        bool ok = chain.Build(leaf);
        problem = ok ? null : Describe(chain);
        return ok;
    }

    /// <summary>Postfix logs OpenSSL's verify error number and text.</summary>
    private static string Describe(X509Chain chain)
    {
        var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (f, s) => f | s.Status);
        bool selfSigned = chain.ChainElements.Count == 1 && chain.ChainElements[0].Certificate.SubjectName.RawData.AsSpan()
            .SequenceEqual(chain.ChainElements[0].Certificate.IssuerName.RawData);
        if (flags.HasFlag(X509ChainStatusFlags.NotTimeValid)) return "num=10:certificate has expired";
        if (flags.HasFlag(X509ChainStatusFlags.NotValidForUsage)) return "num=26:unsuitable certificate purpose";
        if (selfSigned && flags.HasFlag(X509ChainStatusFlags.UntrustedRoot)) return "num=18:self-signed certificate";
        if (flags.HasFlag(X509ChainStatusFlags.UntrustedRoot)) return "num=19:self-signed certificate in certificate chain";
        if (flags.HasFlag(X509ChainStatusFlags.PartialChain)) return "num=20:unable to get local issuer certificate";
        if (flags.HasFlag(X509ChainStatusFlags.NotSignatureValid)) return "num=7:certificate signature failure";
        return "num=0:" + string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()));
    }
}
