using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Posthorn.Tests.Outbound;

/// <summary>A certificate authority made in the test, and server certificates it signs.</summary>
internal static class TestCertificates
{
    /// <summary>A self-signed CA certificate with its key.</summary>
    public static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(ca.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A server certificate for <paramref name="dnsNames"/> (subjectAltName; the first is also the CN),
    /// signed by <paramref name="ca"/>, with its private key.</summary>
    public static X509Certificate2 Issue(X509Certificate2 ca, params string[] dnsNames)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsNames[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var n in dnsNames) san.AddDnsName(n);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(7), serial);
        using var withKey = signed.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>The certificate as PEM (what smtp_tls_CAfile holds).</summary>
    public static string Pem(X509Certificate2 certificate) => certificate.ExportCertificatePem() + "\n";
}
