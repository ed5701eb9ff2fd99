using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Posthorn.IntegrationTests.TestKit;
using Posthorn.Tests.Outbound;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a site sends only to a server whose certificate it can check, logs in to a relay with
/// SMTP AUTH, and may use BDAT. Two real Posthorn daemons: the sender A (mx.a.test, 127.0.0.4) and the receiver B
/// (mx.b.test, 127.0.0.5, the MX of b.test in dnsmasq on loopback), B with a certificate that a CA made in the test
/// signs, and with SMTP AUTH from a passwd-file on its MX listener.</summary>
/// <remarks>Postfix smtp(8), TLS_README (levels verify and secure, smtp_tls_CAfile), SASL_README (client side:
/// smtp_sasl_password_maps, smtp_sasl_security_options); RFC 3207, RFC 4954, RFC 5802, RFC 3030.
/// B listens on a free high port that A reaches through transport(5) <c>smtp:b.test:PORT</c> (MX lookup, that port).</remarks>
public sealed class OutboundSecurityTests(ITestOutputHelper output)
{
    private const string DomainA = "a.test";
    private const string DomainB = "b.test";
    private const string MxB = "mx.b.test";
    private const string SaslUser = "relayuser";
    private const string SaslPassword = "relay s3cret";
    private static readonly IPAddress AddressA = IPAddress.Parse("127.0.0.4");
    private static readonly IPAddress AddressB = IPAddress.Parse("127.0.0.5");
    private static readonly string User = TestConfig.User;
    private static string UserAtA => $"{User}@{DomainA}";
    private static string UserAtB => $"{User}@{DomainB}";

    /// <summary>The two sites and what they share.</summary>
    private sealed class Sites(LoopbackDns dns, int portB) : IAsyncDisposable
    {
        public LoopbackDns Dns { get; } = dns;
        public int PortB { get; } = portB;
        public DaemonProcess A { get; set; } = null!;
        public DaemonProcess B { get; set; } = null!;
        public string RelayB => $"{MxB}[{AddressB}]:{PortB}";

        public async ValueTask DisposeAsync()
        {
            if (A is not null) await A.DisposeAsync();
            if (B is not null) await B.DisposeAsync();
            Dns.Dispose();
        }
    }

    /// <summary>Starts B with a certificate for <paramref name="certNames"/> signed by <paramref name="signer"/>
    /// (SMTP AUTH on its MX row when <paramref name="sasl"/>), then A with <paramref name="mainCfA"/> appended;
    /// in it, <c>{CA}</c> is the PEM file of <paramref name="trusted"/> and <c>{PW}</c> a password table.</summary>
    private async Task<Sites> StartAsync(X509Certificate2 signer, string[] certNames, X509Certificate2 trusted, string mainCfA,
        bool sasl = false, string password = SaslPassword)
    {
        var dns = new LoopbackDns($"--mx-host={DomainB},{MxB},10", $"--host-record={MxB},{AddressB}", $"--host-record=mx.{DomainA},{AddressA}");
        var sites = new Sites(dns, FreePort.Next());
        try
        {
            using var cert = Issue(signer, certNames);
            sites.B = await DaemonProcess.StartAsync(Site(DomainB), output, d =>
            {
                File.WriteAllText(Path.Combine(d.ConfigDir, "b-cert.pem"), cert.ExportCertificatePem() + "\n");
                File.WriteAllText(Path.Combine(d.ConfigDir, "b-key.pem"), cert.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n");
                File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{SaslUser}:{{PLAIN}}{SaslPassword}:1000:1000::/nonexistent::\n");
                File.AppendAllText(d.MainCfPath, $"""

                    smtpd_tls_cert_file = {d.ConfigDir}/b-cert.pem
                    smtpd_tls_key_file = {d.ConfigDir}/b-key.pem
                    smtpd_sasl_type = posthorn
                    posthorn_passwd_file = {d.ConfigDir}/passwd

                    """);
                File.AppendAllText(Path.Combine(d.ConfigDir, "master.cf"),
                    $"{AddressB}:{sites.PortB} inet n - n - - smtpd\n" + (sasl ? "  -o smtpd_sasl_auth_enable=yes\n" : ""));
                return Task.CompletedTask;
            });
            var cfgA = Site(DomainA)
                .With("posthorn_dns_servers", $"127.0.0.1:{dns.Port}")
                .With("smtp_bind_address", AddressA.ToString())
                .With("smtp_tls_loglevel", "1")
                .With("transport_maps", $"inline:{{ {DomainB}=smtp:{DomainB}:{sites.PortB} }}");
            sites.A = await DaemonProcess.StartAsync(cfgA, output, d =>
            {
                string ca = Path.Combine(d.ConfigDir, "trusted-ca.pem");
                File.WriteAllText(ca, trusted.ExportCertificatePem() + "\n");
                string pw = Path.Combine(d.ConfigDir, "sasl_passwd");
                // Postfix SASL_README: the key is the remote host name (or the next hop as written).
                File.WriteAllText(pw, $"{MxB} {SaslUser}:{password}\n");
                string policy = Path.Combine(d.ConfigDir, "tls_policy");
                File.WriteAllText(policy, $"{DomainB}:{sites.PortB} verify\n");
                File.AppendAllText(d.MainCfPath, "\n" + mainCfA.Replace("{CA}", ca, StringComparison.Ordinal)
                    .Replace("{POLICY}", policy, StringComparison.Ordinal)
                    .Replace("{PW}", "texthash:" + pw, StringComparison.Ordinal) + "\n");
                return Task.CompletedTask;
            });
            return sites;
        }
        catch
        {
            await sites.DisposeAsync();
            throw;
        }
    }

    private static TestConfig Site(string domain) => TestConfig.Default
        .With("myhostname", $"mx.{domain}")
        .With("mydomain", domain)
        .With("mydestination", $"$myhostname, localhost, {domain}")
        .With("inet_protocols", "ipv4")
        .With("smtpd_tls_security_level", "may")
        .With("smtpd_tls_loglevel", "1");

    private static async Task<string> SubmitAsync(DaemonProcess site, string token)
    {
        await using var smtp = await site.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        return await smtp.SendMailAsync(UserAtA, UserAtB, Token.Message($"secure {token}", $"outbound security {token}", from: $"<{UserAtA}>", to: UserAtB));
    }

    private static Task<string> DeliveryLineAsync(DaemonProcess site, string id, string status) =>
        site.WaitForLogAsync(l => l.Contains($"{id}: to=<{UserAtB}>", StringComparison.Ordinal) && l.Contains($"status={status}", StringComparison.Ordinal),
            $"{id} {status}");

    private static async Task AssertInMailqAsync(DaemonProcess site, string id, string reason)
    {
        ToolResult mailq = null!;
        await Wait.UntilAsync(async () => (mailq = await site.RunToolAsync("mailq")).Stdout.Contains($"({reason}", StringComparison.Ordinal),
            DaemonProcess.DeliveryTimeout, $"mailq to show \"{reason}\"", () => mailq?.ToString() ?? "");
        Assert.Contains(id, mailq.Stdout);
    }

    private static void AssertNotDelivered(DaemonProcess site, string token) =>
        Assert.False(File.Exists(site.MboxOf(User)) && DaemonProcess.ReadAllShared(site.MboxOf(User)).Contains(token, StringComparison.Ordinal));

    [Fact]
    public async Task Verify_with_the_receivers_ca_and_its_mx_name_delivers_and_logs_Verified()
    {
        using var ca = CreateCa("Posthorn IT CA");
        await using var sites = await StartAsync(ca, [MxB], ca, "smtp_tls_security_level = verify\nsmtp_tls_CAfile = {CA}");
        string token = Token.New();
        string id = await SubmitAsync(sites.A, token);

        string sent = await DeliveryLineAsync(sites.A, id, "sent");
        Assert.Contains($"relay={sites.RelayB}, ", sent);
        string tls = await sites.A.WaitForLogAsync($"Verified TLS connection established to {sites.RelayB}: TLSv1.");
        Assert.Contains("postfix/smtp[", tls);
        Assert.Single(await sites.B.WaitForMboxAsync(User, token), m => m.Body.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Verify_with_another_ca_defers_with_server_certificate_not_trusted_in_the_log_and_mailq()
    {
        using var ca = CreateCa("Posthorn IT CA");
        using var other = CreateCa("Unrelated CA");
        await using var sites = await StartAsync(ca, [MxB], other, "smtp_tls_security_level = verify\nsmtp_tls_CAfile = {CA}");
        string token = Token.New();
        string id = await SubmitAsync(sites.A, token);

        string deferred = await DeliveryLineAsync(sites.A, id, "deferred");
        Assert.Contains("dsn=4.7.5, status=deferred (Server certificate not trusted)", deferred);
        await sites.A.WaitForLogAsync($"Untrusted TLS connection established to {sites.RelayB}");
        await AssertInMailqAsync(sites.A, id, "Server certificate not trusted");
        // Never plaintext instead: B saw no message from A.
        Assert.DoesNotContain(sites.B.MaillogLines(), l => l.Contains($"from=<{UserAtA}>", StringComparison.Ordinal));
        AssertNotDelivered(sites.B, token);
    }

    [Fact]
    public async Task Verify_with_a_certificate_for_another_host_name_defers_with_server_certificate_not_verified()
    {
        using var ca = CreateCa("Posthorn IT CA");
        await using var sites = await StartAsync(ca, ["mx.elsewhere.test"], ca, "smtp_tls_security_level = verify\nsmtp_tls_CAfile = {CA}");
        string token = Token.New();
        string id = await SubmitAsync(sites.A, token);

        string deferred = await DeliveryLineAsync(sites.A, id, "deferred");
        Assert.Contains("dsn=4.7.5, status=deferred (Server certificate not verified)", deferred);
        await sites.A.WaitForLogAsync($"Trusted TLS connection established to {sites.RelayB}");
        await AssertInMailqAsync(sites.A, id, "Server certificate not verified");
        AssertNotDelivered(sites.B, token);
    }

    [Fact]
    public async Task Secure_delivers_to_a_certificate_that_names_the_next_hop_domain()
    {
        using var ca = CreateCa("Posthorn IT CA");
        // smtp_tls_secure_cert_match = nexthop, dot-nexthop: "b.test" matches; the MX name is not needed.
        await using var sites = await StartAsync(ca, [DomainB], ca, "smtp_tls_security_level = secure\nsmtp_tls_CAfile = {CA}");
        string token = Token.New();
        string id = await SubmitAsync(sites.A, token);

        await DeliveryLineAsync(sites.A, id, "sent");
        await sites.A.WaitForLogAsync($"Verified TLS connection established to {sites.RelayB}: TLSv1.");
        Assert.Single(await sites.B.WaitForMboxAsync(User, token), m => m.Body.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Secure_with_a_certificate_for_a_host_outside_the_domain_defers_not_verified()
    {
        using var ca = CreateCa("Posthorn IT CA");
        await using var sites = await StartAsync(ca, ["mx.elsewhere.test"], ca, "smtp_tls_security_level = secure\nsmtp_tls_CAfile = {CA}");
        string id = await SubmitAsync(sites.A, Token.New());
        string deferred = await DeliveryLineAsync(sites.A, id, "deferred");
        Assert.Contains("dsn=4.7.5, status=deferred (Server certificate not verified)", deferred);
    }

    [Fact]
    public async Task A_tls_policy_map_entry_for_the_next_hop_makes_verify_mandatory_over_a_may_default()
    {
        using var ca = CreateCa("Posthorn IT CA");
        using var other = CreateCa("Unrelated CA");
        // The key is the next hop verbatim, as transport_maps gives it: "b.test:PORT" (Postfix postconf(5)).
        await using var sites = await StartAsync(ca, [MxB], other,
            "smtp_tls_security_level = may\nsmtp_tls_CAfile = {CA}\nsmtp_tls_policy_maps = texthash:{POLICY}");
        string id = await SubmitAsync(sites.A, Token.New());
        string deferred = await DeliveryLineAsync(sites.A, id, "deferred");
        Assert.Contains("dsn=4.7.5, status=deferred (Server certificate not trusted)", deferred);
    }

    [Fact]
    public async Task Auth_with_the_right_password_uses_scram_under_the_default_options_and_the_receiver_logs_sasl_username()
    {
        using var ca = CreateCa("Posthorn IT CA");
        await using var sites = await StartAsync(ca, [MxB], ca,
            "smtp_tls_security_level = verify\nsmtp_tls_CAfile = {CA}\nsmtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = {PW}", sasl: true);
        string token = Token.New();
        string id = await SubmitAsync(sites.A, token);

        string sent = await DeliveryLineAsync(sites.A, id, "sent");
        const string queuedAs = "status=sent (250 2.0.0 Ok: queued as ";
        string remoteId = sent[(sent.IndexOf(queuedAs, StringComparison.Ordinal) + queuedAs.Length)..].TrimEnd(')');
        // smtp_sasl_security_options = noplaintext, noanonymous (Postfix's default): not PLAIN, SCRAM.
        string client = await sites.B.WaitForLogAsync($"{remoteId}: client=");
        Assert.Contains($"[{AddressA}], sasl_method=SCRAM-SHA-256, sasl_username={SaslUser}", client);
        var m = Assert.Single(await sites.B.WaitForMboxAsync(User, token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Contains("with ESMTPSA id " + remoteId, m.HeaderValues("Received").First());
        Assert.DoesNotContain(sites.A.MaillogLines(), l => l.Contains(SaslPassword, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Auth_plain_over_tls_when_the_options_allow_plaintext_mechanisms()
    {
        using var ca = CreateCa("Posthorn IT CA");
        await using var sites = await StartAsync(ca, [MxB], ca,
            "smtp_tls_security_level = encrypt\nsmtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = {PW}\n" +
            "smtp_sasl_tls_security_options = noanonymous\nsmtp_sasl_mechanism_filter = plain, login", sasl: true);
        string token = Token.New();
        string id = await SubmitAsync(sites.A, token);
        await DeliveryLineAsync(sites.A, id, "sent");
        await sites.B.WaitForLogAsync($"sasl_method=PLAIN, sasl_username={SaslUser}");
        Assert.Single(await sites.B.WaitForMboxAsync(User, token), m => m.Body.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Auth_with_a_wrong_password_defers_with_the_535_in_the_log_and_mailq()
    {
        using var ca = CreateCa("Posthorn IT CA");
        await using var sites = await StartAsync(ca, [MxB], ca,
            "smtp_tls_security_level = encrypt\nsmtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = {PW}", sasl: true, password: "not the password");
        string token = Token.New();
        string id = await SubmitAsync(sites.A, token);

        string deferred = await DeliveryLineAsync(sites.A, id, "deferred");
        string reason = $"SASL authentication failed; server {MxB}[{AddressB}] said: 535 5.7.8 Error: authentication failed";
        Assert.Contains($"dsn=4.7.8, status=deferred ({reason}", deferred);
        await AssertInMailqAsync(sites.A, id, reason);
        AssertNotDelivered(sites.B, token);
    }

    [Fact]
    public async Task With_posthorn_smtp_use_bdat_the_message_crosses_in_bdat_and_the_receiver_counts_no_data()
    {
        using var ca = CreateCa("Posthorn IT CA");
        await using var sites = await StartAsync(ca, [MxB], ca, "smtp_tls_security_level = may\nposthorn_smtp_use_bdat = yes");
        string token = Token.New();
        string id = await SubmitAsync(sites.A, token);

        await DeliveryLineAsync(sites.A, id, "sent");
        Assert.Single(await sites.B.WaitForMboxAsync(User, token), m => m.Body.Contains(token, StringComparison.Ordinal));
        // Postfix smtpd's disconnect line counts the commands: bdat=1, and no data=.
        string disconnect = await sites.B.WaitForLogAsync(l => l.Contains("disconnect from", StringComparison.Ordinal)
            && l.Contains($"[{AddressA}]", StringComparison.Ordinal), "B's disconnect line for A");
        Assert.Contains(" bdat=1 ", disconnect);
        Assert.DoesNotContain(" data=", disconnect);
    }

    private static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(ca.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A server certificate for <paramref name="names"/> signed by <paramref name="ca"/>, with its key.</summary>
    private static X509Certificate2 Issue(X509Certificate2 ca, string[] names)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var n in names) san.AddDnsName(n);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(7), serial);
        using var withKey = signed.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
    }
}
