using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Posthorn.Daemon.Tools;
using Xunit;

namespace Posthorn.Tests.Tools;

/// <summary>postconf -T (Postfix 3.1+, public-key-algorithms 3.6+): what Posthorn's TLS library says about itself.</summary>
public class PostconfTlsTests
{
    private static (int Status, string Out, string Err) Postconf(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var ctx = new ToolContext { Out = stdout, Err = stderr, GetEnv = _ => null };
        int status = Daemon.Tools.Postconf.Run(args, ctx);
        return (status, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData(0x300000d0L, "OpenSSL 3.0.13")]
    [InlineData(0x30500010L, "OpenSSL 3.5.1")]
    [InlineData(0x1010117fL, "OpenSSL 1.1.1w")]
    [InlineData(0x1000214fL, "OpenSSL 1.0.2t")]
    [InlineData(0x1010100fL, "OpenSSL 1.1.1")]
    public void OpenSSL_version_numbers_read_as_OpenSSL_prints_them(long number, string text) =>
        Assert.Equal(text, Daemon.Tools.Postconf.FormatOpenSslVersion(number));

    [Fact]
    public void Run_version_is_the_OpenSSL_that_this_process_has_loaded()
    {
        // Make sure .NET has loaded its OpenSSL, then find the library file in this process's memory map.
        using (var rsa = RSA.Create(2048)) rsa.SignData([1], HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        string? lib = File.ReadLines("/proc/self/maps")
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
            .Select(Path.GetFileName)
            .FirstOrDefault(n => n!.StartsWith("libcrypto.so.", StringComparison.Ordinal));
        Assert.NotNull(lib);

        var (status, output, err) = Postconf("-T", "run-version");
        Assert.True(status == 0, err);
        Assert.Matches(@"^OpenSSL \d+\.\d+\.\d+[a-z]?\n$", output);
        // libcrypto.so.3 is OpenSSL 3.x; libcrypto.so.1.1 is 1.1.x.
        string soVersion = lib!["libcrypto.so.".Length..];
        string version = output["OpenSSL ".Length..].TrimEnd('\n');
        Assert.StartsWith(soVersion == "3" ? "3." : soVersion + ".", version, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_version_names_the_dotnet_version_posthorn_is_built_for()
    {
        var (status, output, _) = Postconf("-Tcompile-version");
        Assert.Equal(0, status);
        Assert.Equal($".NET {Environment.Version.Major}.{Environment.Version.Minor} SslStream\n", output);
    }

    [Fact]
    public async Task Every_public_key_algorithm_listed_serves_a_TLS_handshake_with_a_PEM_certificate()
    {
        var (status, output, _) = Postconf("-v", "-T", "public-key-algorithms");
        Assert.Equal(0, status);
        var algorithms = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["rsa", "ecdsa"], algorithms);
        var dir = Directory.CreateTempSubdirectory("posthorn-tls-");
        try
        {
            foreach (string alg in algorithms)
                await HandshakeAsync(alg, dir.FullName);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void An_unknown_mode_is_a_warning_and_exit_status_1_as_in_Postfix()
    {
        var (status, output, err) = Postconf("-T", "bogus");
        Assert.Equal(1, status);
        Assert.Equal("", output);
        Assert.Equal("postconf: warning: unknown 'postconf -T' mode: bogus\n", err);

        var (missing, _, usage) = Postconf("-T");
        Assert.Equal(1, missing);
        Assert.StartsWith("postconf: fatal: usage: postconf", usage, StringComparison.Ordinal);
    }

    /// <summary>Writes a self-signed certificate of kind <paramref name="alg"/> as PEM, loads it the way the
    /// daemon does (CreateFromPemFile) and completes a loopback SslStream handshake with it.</summary>
    private static async Task HandshakeAsync(string alg, string dir)
    {
        AsymmetricAlgorithm key = alg switch
        {
            "rsa" => RSA.Create(2048),
            "ecdsa" => ECDsa.Create(ECCurve.NamedCurves.nistP256),
            _ => throw new Xunit.Sdk.XunitException($"no test key for {alg}"),
        };
        using var _ = key;
        var name = new X500DistinguishedName("CN=mail.example.test");
        var request = key is RSA rsa
            ? new CertificateRequest(name, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(name, (ECDsa)key, HashAlgorithmName.SHA256);
        using (var self = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)))
        {
            File.WriteAllText(Path.Combine(dir, alg + ".crt"), self.ExportCertificatePem());
            File.WriteAllText(Path.Combine(dir, alg + ".key"), key.ExportPkcs8PrivateKeyPem());
        }
        using var loaded = X509Certificate2.CreateFromPemFile(Path.Combine(dir, alg + ".crt"), Path.Combine(dir, alg + ".key"));
        using var cert = X509CertificateLoader.LoadPkcs12(loaded.Export(X509ContentType.Pkcs12), null);

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        var connect = client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var accepted = await listener.AcceptTcpClientAsync();
        await connect;
        using var server = new SslStream(accepted.GetStream());
        using var tls = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
        var serve = server.AuthenticateAsServerAsync(cert);
        await tls.AuthenticateAsClientAsync("mail.example.test");
        await serve;
        Assert.True(tls.IsAuthenticated, alg);
        Assert.Equal(cert.Thumbprint, tls.RemoteCertificate!.GetCertHashString());
    }
}
