using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Posthorn.Mua;

/// <summary>How <c>posthorn mail --imap</c> checks the IMAP server's certificate: by default against the
/// system's trust store and the host name (RFC 9525 / RFC 6125 via SslStream); with <c>--ca-file FILE</c>
/// the certificates in that PEM file are trusted too (a self-signed server certificate, or a private CA);
/// with <c>--insecure</c> any certificate is accepted.</summary>
/// <remarks>
/// Security: --ca-file widens only the chain check; a certificate for another host name is still
/// refused. --insecure gives up protection against an active attacker, as curl's -k does.
/// <see cref="Check"/> runs on MailKit's connecting thread (the reader's and the IDLE watcher's);
/// <see cref="Problem"/> keeps the last refusal for the error message.
/// </remarks>
public sealed class ImapTrust
{
    private readonly X509Certificate2Collection _extra;
    private volatile string? _problem;

    /// <summary>The system's trust store only.</summary>
    public ImapTrust() : this(insecure: false, []) { }

    private ImapTrust(bool insecure, X509Certificate2Collection extra) => (Insecure, _extra) = (insecure, extra);

    /// <summary>--insecure: every certificate is accepted.</summary>
    public bool Insecure { get; }

    /// <summary>--insecure.</summary>
    public static ImapTrust AcceptAny() => new(insecure: true, []);

    /// <summary>--ca-file: also trust the certificates in <paramref name="pemFile"/>.</summary>
    /// <exception cref="IOException">the file cannot be read or holds no PEM certificate.</exception>
    public static ImapTrust WithCaFile(string pemFile)
    {
        var extra = new X509Certificate2Collection();
        try
        {
            extra.ImportFromPemFile(pemFile);
        }
        catch (CryptographicException e)
        {
            throw new IOException($"{pemFile}: not a PEM certificate file ({e.Message})", e);
        }
        if (extra.Count == 0) throw new IOException($"{pemFile}: no PEM certificate in it");
        return new ImapTrust(insecure: false, extra);
    }

    /// <summary>Why the last certificate was refused, or null.</summary>
    public string? Problem => _problem;

    /// <summary>The RemoteCertificateValidationCallback.</summary>
    public bool Check(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (Insecure || errors == SslPolicyErrors.None) return true;
        string subject = certificate?.Subject ?? "(none)";
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            _problem = "the server sent no certificate";
            return false;
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            _problem = $"the certificate ({subject}) is not for this host name";
            return false;
        }
        // Only the chain is in question here.
        if (_extra.Count > 0 && certificate is not null)
        {
            using var cert = new X509Certificate2(certificate);
            // A self-signed server certificate given in the file is trusted as it is.
            if (_extra.Any(c => c.RawDataMemory.Span.SequenceEqual(cert.RawDataMemory.Span))) return true;
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(_extra);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (chain is not null) foreach (var element in chain.ChainElements) custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            if (custom.Build(cert)) return true;
            _problem = $"the certificate ({subject}) is not signed by a certificate in the --ca-file ({Reasons(custom)})";
            return false;
        }
        _problem = $"the certificate ({subject}) is not trusted ({(chain is null ? "no chain" : Reasons(chain))})";
        return false;
    }

    private static string Reasons(X509Chain chain)
    {
        var reasons = chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct().ToList();
        return reasons.Count > 0 ? string.Join("; ", reasons) : "unknown issuer";
    }
}
