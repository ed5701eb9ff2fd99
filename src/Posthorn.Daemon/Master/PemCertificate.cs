using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Posthorn.Logging;

namespace Posthorn.Daemon.Master;

/// <summary>A server certificate with its chain from PEM files, as smtpd_tls_cert_file/smtpd_tls_key_file name
/// them (and imapd's equivalents).</summary>
internal static class PemCertificate
{
    /// <summary>The certificate from <paramref name="certFile"/> with its key from <paramref name="keyFile"/>
    /// (the cert file when empty), and the other certificates of the cert file as its chain; (null, null) when
    /// <paramref name="certFile"/> is empty, or when the files cannot be loaded (logged under <paramref name="program"/>,
    /// ending with <paramref name="consequence"/>).</summary>
    public static (X509Certificate2? Cert, X509Certificate2Collection? Chain) Load(string certFile, string keyFile,
        MailLog log, string program, string consequence = "")
    {
        if (certFile.Length == 0) return (null, null);
        try
        {
            var cert = X509Certificate2.CreateFromPemFile(certFile, keyFile.Length > 0 ? keyFile : certFile);
            var all = new X509Certificate2Collection();
            all.ImportFromPemFile(certFile);
            var chain = new X509Certificate2Collection();
            foreach (var c in all)
                if (c.Thumbprint != cert.Thumbprint) chain.Add(c);
            return (cert, chain.Count > 0 ? chain : null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            log.Warning(program, $"cannot load certificate from {certFile} and key from {keyFile}: {e.Message}{consequence}");
            return (null, null);
        }
    }
}
