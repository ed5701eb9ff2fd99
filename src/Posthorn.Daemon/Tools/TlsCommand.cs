using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Posthorn.Config;

namespace Posthorn.Daemon.Tools;

/// <summary><c>posthorn tls new-server-cert [-c DIR] [-n HOSTNAME] [-f]</c>: makes a self-signed server
/// certificate and its key as PEM files, DIR/tls/cert.pem and DIR/tls/key.pem, with no openssl needed, and
/// prints the main.cf lines that use them (a Posthorn command; Postfix 3.9's <c>postfix tls</c> does the
/// same job with openssl).</summary>
/// <remarks>The certificate: RSA 2048, SHA-256, CN and subjectAltName = the host name ($myhostname of
/// the configuration when it loads, else this host's name), serverAuth, valid 10 years. key.pem is
/// created mode 0600 before anything is written to it. Existing files are kept unless -f is given.
/// Exit status 0 on success, 1 on an error (<c>posthorn tls: fatal: …</c>), 64 on a usage error.</remarks>
public static class TlsCommand
{
    private const string Usage = "usage: posthorn tls new-server-cert [-c config_dir] [-n hostname] [-f]";

    public static Task<int> RunAsync(string[] args, ToolContext ctx)
    {
        if (args.Length == 0 || args[0] != "new-server-cert")
        {
            ctx.Err.WriteLine($"posthorn tls: fatal: {Usage}");
            return Task.FromResult(64);
        }
        string? dashC = null, hostname = null;
        bool force = false;
        for (int i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-c" when i + 1 < args.Length: dashC = args[++i]; break;
                case "-n" when i + 1 < args.Length: hostname = args[++i]; break;
                case "-f": force = true; break;
                default:
                    ctx.Err.WriteLine($"posthorn tls: fatal: {Usage}");
                    return Task.FromResult(64);
            }
        }
        string dir = Path.GetFullPath(ctx.ConfigDirectory(dashC));
        hostname ??= Hostname(dir);
        string tlsDir = Path.Combine(dir, "tls");
        string certFile = Path.Combine(tlsDir, "cert.pem"), keyFile = Path.Combine(tlsDir, "key.pem");
        if (!force && (File.Exists(certFile) || File.Exists(keyFile)))
        {
            ctx.Err.WriteLine($"posthorn tls: fatal: {certFile} or {keyFile} exists; use -f to replace them");
            return Task.FromResult(1);
        }
        try
        {
            Directory.CreateDirectory(tlsDir);
            var (certPem, keyPem) = CreateSelfSigned(hostname, ctx.Clock.GetUtcNow());
            File.Delete(keyFile);
            var keyOptions = new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            using (var key = new StreamWriter(keyFile, keyOptions)) key.Write(keyPem);
            File.WriteAllText(certFile, certPem);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            ctx.Err.WriteLine($"posthorn tls: fatal: {e.Message}");
            return Task.FromResult(1);
        }
        ctx.Out.WriteLine($"Wrote a self-signed certificate for {hostname}: {certFile} and {keyFile}");
        ctx.Out.WriteLine("Add to main.cf (or run posthorn postconf -e with these):");
        ctx.Out.WriteLine($"smtpd_tls_cert_file = {certFile}");
        ctx.Out.WriteLine($"smtpd_tls_key_file = {keyFile}");
        ctx.Out.WriteLine("smtpd_tls_security_level = may");
        ctx.Out.WriteLine("smtpd_tls_loglevel = 1");
        ctx.Out.WriteLine("smtpd_tls_received_header = yes");
        return Task.FromResult(0);
    }

    /// <summary>A self-signed server certificate for <paramref name="hostname"/>: (certificate PEM, PKCS#8 key PEM).</summary>
    public static (string CertificatePem, string KeyPem) CreateSelfSigned(string hostname, DateTimeOffset now)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN={hostname}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(hostname);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var cert = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(10));
        return (cert.ExportCertificatePem(), rsa.ExportPkcs8PrivateKeyPem());
    }

    private static string Hostname(string dir)
    {
        try
        {
            if (File.Exists(Path.Combine(dir, "main.cf"))) return ConfigSnapshot.Load(dir).Get("myhostname");
        }
        catch (ConfigException)
        {
            // Fall through to the host's own name.
        }
        return HostInfo.Detect().Fqdn;
    }
}
