using System.Security.Cryptography.X509Certificates;
using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>smtp_tls_security_level = verify and secure against a real TLS server whose certificate a CA made in
/// the test signs: dest.test has its MX at mx.hoster.test (127.0.0.1), published by dnsmasq on loopback.</summary>
/// <remarks>Postfix TLS_README: verify matches the MX host name, secure the next-hop domain (or a subdomain); a chain
/// that does not verify defers with "Server certificate not trusted", a name that does not match with "Server
/// certificate not verified", both dsn=4.7.5 and never a fallback to plaintext.</remarks>
public sealed class SmtpTransportVerifyTests : IDisposable
{
    private const string Domain = "dest.test";
    private const string MxHost = "mx.hoster.test";
    private readonly LoopbackDns _dns = new($"--mx-host={Domain},{MxHost},10", $"--host-record={MxHost},127.0.0.1");
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-verify-");
    private readonly ListLogSink _sink = new();
    private readonly X509Certificate2 _ca = TestCertificates.CreateCa("Posthorn Test CA");
    private readonly X509Certificate2 _otherCa = TestCertificates.CreateCa("Some Other CA");

    private string CaFile(X509Certificate2 ca)
    {
        string path = Path.Combine(_dir.FullName, $"ca-{ca.Thumbprint}.pem");
        File.WriteAllText(path, TestCertificates.Pem(ca));
        return path;
    }

    private async Task<(OutboundDeliveryResult Result, LoopbackSmtpServer Server)> DeliverAsync(SmtpTlsLevel level, X509Certificate2 serverCert, string? caFile,
        Func<string, string?>? policies = null)
    {
        var server = new LoopbackSmtpServer { OfferTls = true, ServerCertificate = serverCert };
        var transport = new SmtpTransport(
            new SmtpClientOptions { HeloName = "client.test", TlsLevel = level, TlsCaFile = caFile, ConnectTimeout = TimeSpan.FromSeconds(5), TlsPolicyLookup = policies },
            new NextHopResolver(_dns.Resolver(), new HostLookupOptions { UseIPv6 = false }, new Random(1)),
            new MailLog(_sink, "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System);
        var bytes = Encoding.ASCII.GetBytes("Subject: verify\n\nhello\n");
        var message = new OutboundMessage(new QueueId("ABCDEF123456"), SmtpPath.FromAddress("a@client.test"), bytes.Length, () => new MemoryStream(bytes));
        var result = await transport.DeliverAsync(new NextHop(Domain, server.Port, SkipMx: false), message, [new OutboundRecipient($"b@{Domain}")], CancellationToken.None);
        return (result, server);
    }

    private string Log => string.Join("\n", _sink.Lines);

    [Fact]
    public async Task Verify_with_the_signing_ca_and_the_mx_name_in_the_certificate_delivers_and_logs_Verified()
    {
        using var cert = TestCertificates.Issue(_ca, MxHost);
        var (result, server) = await DeliverAsync(SmtpTlsLevel.Verify, cert, CaFile(_ca));
        await using var _ = server;
        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.True(server.TlsUsed);
        Assert.Contains($"Verified TLS connection established to {MxHost}[127.0.0.1]:{server.Port}: TLSv1.", Log);
    }

    [Fact]
    public async Task Verify_with_another_ca_defers_4_7_5_server_certificate_not_trusted_and_sends_no_mail()
    {
        using var cert = TestCertificates.Issue(_ca, MxHost);
        var (result, server) = await DeliverAsync(SmtpTlsLevel.Verify, cert, CaFile(_otherCa));
        await using var _ = server;
        var r = result.Recipients[0];
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Equal("4.7.5", r.Dsn.ToString());
        Assert.Equal("Server certificate not trusted", r.Text);
        Assert.DoesNotContain(server.Commands, c => LoopbackSmtpServer.Verb(c) == "MAIL");
        Assert.Contains($"Untrusted TLS connection established to {MxHost}[127.0.0.1]:{server.Port}", Log);
        Assert.Contains("certificate verification failed for", Log);
        // Never a retry in plaintext: one session only, and it ended with QUIT.
        Assert.Equal(1, server.Sessions);
        Assert.Equal("QUIT", server.Commands[^1]);
    }

    [Fact]
    public async Task Verify_with_a_certificate_for_another_host_defers_server_certificate_not_verified()
    {
        using var cert = TestCertificates.Issue(_ca, "mx.elsewhere.test");
        var (result, server) = await DeliverAsync(SmtpTlsLevel.Verify, cert, CaFile(_ca));
        await using var _ = server;
        var r = result.Recipients[0];
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Equal("4.7.5", r.Dsn.ToString());
        Assert.Equal("Server certificate not verified", r.Text);
        Assert.Contains($"Trusted TLS connection established to {MxHost}[127.0.0.1]:{server.Port}", Log);
        Assert.DoesNotContain(server.Commands, c => LoopbackSmtpServer.Verb(c) == "MAIL");
    }

    [Fact]
    public async Task Secure_accepts_a_certificate_for_the_next_hop_domain_that_verify_refuses()
    {
        using var cert = TestCertificates.Issue(_ca, Domain);
        var (secure, s1) = await DeliverAsync(SmtpTlsLevel.Secure, cert, CaFile(_ca));
        await using var _1 = s1;
        Assert.Equal(DeliveryOutcome.Sent, secure.Recipients[0].Outcome);
        Assert.Contains($"Verified TLS connection established to {MxHost}[127.0.0.1]:{s1.Port}", Log);

        var (verify, s2) = await DeliverAsync(SmtpTlsLevel.Verify, cert, CaFile(_ca));
        await using var _2 = s2;
        Assert.Equal("Server certificate not verified", verify.Recipients[0].Text);
    }

    [Fact]
    public async Task Secure_refuses_a_certificate_for_the_mx_host_outside_the_domain()
    {
        using var cert = TestCertificates.Issue(_ca, MxHost);
        var (result, server) = await DeliverAsync(SmtpTlsLevel.Secure, cert, CaFile(_ca));
        await using var _ = server;
        Assert.Equal(DeliveryOutcome.Deferred, result.Recipients[0].Outcome);
        Assert.Equal("Server certificate not verified", result.Recipients[0].Text);
    }

    [Fact]
    public async Task Secure_accepts_a_subdomain_certificate_by_dot_nexthop_but_still_needs_the_ca()
    {
        using var cert = TestCertificates.Issue(_ca, $"smtp.{Domain}");
        var (ok, s1) = await DeliverAsync(SmtpTlsLevel.Secure, cert, CaFile(_ca));
        await using var _1 = s1;
        Assert.Equal(DeliveryOutcome.Sent, ok.Recipients[0].Outcome);
        var (untrusted, s2) = await DeliverAsync(SmtpTlsLevel.Secure, cert, CaFile(_otherCa));
        await using var _2 = s2;
        Assert.Equal("Server certificate not trusted", untrusted.Recipients[0].Text);
    }

    [Fact]
    public async Task Encrypt_delivers_over_an_unverified_certificate_and_may_logs_a_verified_chain_as_Trusted()
    {
        using var cert = TestCertificates.Issue(_ca, "mx.elsewhere.test");
        var (encrypt, s1) = await DeliverAsync(SmtpTlsLevel.Encrypt, cert, CaFile(_otherCa));
        await using var _1 = s1;
        Assert.Equal(DeliveryOutcome.Sent, encrypt.Recipients[0].Outcome);
        Assert.Contains($"Untrusted TLS connection established to {MxHost}[127.0.0.1]:{s1.Port}", Log);

        var (may, s2) = await DeliverAsync(SmtpTlsLevel.May, cert, CaFile(_ca));
        await using var _2 = s2;
        Assert.Equal(DeliveryOutcome.Sent, may.Recipients[0].Outcome);
        // No name check below verify: a chain that verifies is "Trusted", never "Verified".
        Assert.Contains($"Trusted TLS connection established to {MxHost}[127.0.0.1]:{s2.Port}", Log);
        Assert.DoesNotContain("Verified TLS", Log);
    }

    [Fact]
    public async Task Verify_when_the_server_offers_no_starttls_defers_and_sends_no_mail()
    {
        await using var server = new LoopbackSmtpServer();
        var transport = new SmtpTransport(
            new SmtpClientOptions { HeloName = "client.test", TlsLevel = SmtpTlsLevel.Verify, TlsCaFile = CaFile(_ca) },
            new NextHopResolver(_dns.Resolver(), new HostLookupOptions { UseIPv6 = false }, new Random(1)),
            new MailLog(_sink, "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System);
        var bytes = "x\n"u8.ToArray();
        var message = new OutboundMessage(new QueueId("ABCDEF123456"), SmtpPath.FromAddress("a@client.test"), bytes.Length, () => new MemoryStream(bytes));
        var result = await transport.DeliverAsync(new NextHop(Domain, server.Port, SkipMx: false), message, [new OutboundRecipient($"b@{Domain}")], CancellationToken.None);
        Assert.Equal(DeliveryOutcome.Deferred, result.Recipients[0].Outcome);
        Assert.Contains("TLS is required, but was not offered by host", result.Recipients[0].Text);
        Assert.DoesNotContain(server.Commands, c => LoopbackSmtpServer.Verb(c) == "MAIL");
    }

    [Fact]
    public async Task A_policy_map_entry_overrides_the_level_and_its_match_list_replaces_the_default_rules()
    {
        using var cert = TestCertificates.Issue(_ca, MxHost);
        // secure would refuse mx.hoster.test by default (nexthop, dot-nexthop); match= names it.
        // An entry for another destination changes nothing.
        var (ok, s1) = await DeliverAsync(SmtpTlsLevel.May, cert, CaFile(_ca), key => key == "other.test" ? "secure" : null);
        await using var _1 = s1;
        Assert.Equal(DeliveryOutcome.Sent, ok.Recipients[0].Outcome);
        Assert.DoesNotContain("Verified TLS", Log);

        var (secure, s2) = await DeliverAsync(SmtpTlsLevel.May, cert, CaFile(_ca),
            key => key.StartsWith($"{Domain}:", StringComparison.Ordinal) ? $"secure match={MxHost}" : null);
        await using var _2 = s2;
        Assert.Equal(DeliveryOutcome.Sent, secure.Recipients[0].Outcome);
        Assert.Contains($"Verified TLS connection established to {MxHost}[127.0.0.1]:{s2.Port}", Log);

        var (untrusted, s3) = await DeliverAsync(SmtpTlsLevel.May, cert, CaFile(_otherCa),
            key => key.StartsWith($"{Domain}:", StringComparison.Ordinal) ? "verify" : null);
        await using var _3 = s3;
        Assert.Equal("Server certificate not trusted", untrusted.Recipients[0].Text);
        Assert.DoesNotContain(s3.Commands, c => LoopbackSmtpServer.Verb(c) == "MAIL");
    }

    [Fact]
    public async Task An_invalid_policy_defers_without_connecting()
    {
        using var cert = TestCertificates.Issue(_ca, MxHost);
        var (result, server) = await DeliverAsync(SmtpTlsLevel.May, cert, CaFile(_ca), _ => "mandatory");
        await using var _ = server;
        Assert.Equal(DeliveryOutcome.Deferred, result.Recipients[0].Outcome);
        Assert.Equal("client TLS configuration problem", result.Recipients[0].Text);
        Assert.Equal(0, server.Sessions);
        Assert.Contains("invalid TLS security level \"mandatory\"", Log);
    }

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
        _dns.Dispose();
        _dir.Delete(recursive: true);
    }
}
