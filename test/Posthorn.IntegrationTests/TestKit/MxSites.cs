using System.Net;
using System.Net.Sockets;
using Posthorn.Tests.Outbound;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>Two real Posthorn daemons that find each other by MX records, as two sites on the Internet do:
/// site A (<c>a.test</c>, host <c>mx.a.test</c> = 127.0.0.2) and site B (<c>b.test</c>, <c>mx.b.test</c> = 127.0.0.3),
/// with dnsmasq on loopback publishing their MX and A records (and a null MX for <c>nullmx.test</c>).</summary>
/// <remarks>
/// Each daemon keeps the kit's 127.0.0.1 listener (the kit's readiness probe and the tests' submission port)
/// and gets a second smtpd row on its own address: port 25 when the tests run as root (Postfix's case), else a
/// free high port, which the other site reaches through transport(5)'s <c>smtp:domain:port</c> form (MX lookup,
/// then that port). Both sites send with <c>smtp_bind_address</c> = their own address, use
/// <c>posthorn_dns_servers</c> = the dnsmasq port, and hold a self-signed certificate from
/// <c>posthorn tls new-server-cert</c> with STARTTLS offered (<c>smtpd_tls_security_level = may</c>) and
/// used (<c>smtp_tls_security_level = may</c>), TLS log level 1 on both sides.
/// </remarks>
public sealed class MxSites : IAsyncDisposable
{
    public const string DomainA = "a.test";
    public const string DomainB = "b.test";
    public const string NullMxDomain = "nullmx.test";
    public static readonly IPAddress AddressA = IPAddress.Parse("127.0.0.2");
    public static readonly IPAddress AddressB = IPAddress.Parse("127.0.0.3");

    private MxSites(LoopbackDns dns, int mxPortA, int mxPortB)
    {
        Dns = dns;
        MxPortA = mxPortA;
        MxPortB = mxPortB;
    }

    public LoopbackDns Dns { get; }
    public DaemonProcess A { get; private set; } = null!;
    public DaemonProcess B { get; private set; } = null!;

    /// <summary>The port site A's MX listens on (127.0.0.2): 25 as root, else a free high port.</summary>
    public int MxPortA { get; }

    /// <summary>The port site B's MX listens on (127.0.0.3).</summary>
    public int MxPortB { get; }

    /// <summary>The local test user at site A / site B (a real passwd account: the user running the tests).</summary>
    public static string UserAtA => $"{TestConfig.User}@{DomainA}";
    public static string UserAtB => $"{TestConfig.User}@{DomainB}";

    /// <summary>Starts dnsmasq, then B, then A (a failure disposes what was started).</summary>
    public static async Task<MxSites> StartAsync(ITestOutputHelper output, Func<TestConfig, TestConfig>? adjustA = null)
    {
        bool port25 = Unix.IsRoot && CanBind(AddressA, 25) && CanBind(AddressB, 25);
        int portA = port25 ? 25 : FreePort.Next();
        int portB = port25 ? 25 : FreePort.Next();
        var dns = new LoopbackDns(
            $"--mx-host={DomainA},mx.{DomainA},10", $"--host-record=mx.{DomainA},{AddressA}",
            $"--mx-host={DomainB},mx.{DomainB},10", $"--host-record=mx.{DomainB},{AddressB}",
            // RFC 7505 §3: "0 ." says the domain accepts no mail.
            $"--mx-host={NullMxDomain},.,0");
        var sites = new MxSites(dns, portA, portB);
        try
        {
            sites.B = await StartSiteAsync(sites, DomainB, AddressB, portB, portA, c => c, output);
            sites.A = await StartSiteAsync(sites, DomainA, AddressA, portA, portB, adjustA ?? (c => c), output);
            return sites;
        }
        catch
        {
            await sites.DisposeAsync();
            throw;
        }
    }

    private static async Task<DaemonProcess> StartSiteAsync(MxSites sites, string domain, IPAddress address, int mxPort,
        int otherPort, Func<TestConfig, TestConfig> adjust, ITestOutputHelper output)
    {
        string other = domain == DomainA ? DomainB : DomainA;
        var cfg = TestConfig.Default
            .With("myhostname", $"mx.{domain}")
            .With("mydomain", domain)
            .With("mydestination", $"$myhostname, localhost, {domain}")
            .With("posthorn_dns_servers", $"127.0.0.1:{sites.Dns.Port}")
            .With("smtp_bind_address", address.ToString())
            .With("inet_protocols", "ipv4")
            .With("smtp_tls_security_level", "may")
            .With("smtp_tls_loglevel", "1")
            .With("smtpd_tls_security_level", "may")
            .With("smtpd_tls_loglevel", "1")
            .With("smtpd_tls_received_header", "yes");
        // Postfix transport(5): "smtp:domain:port" still looks up the MX records of domain, then uses that port.
        if (otherPort != 25) cfg = cfg.With("transport_maps", $"inline:{{ {other}=smtp:{other}:{otherPort} }}");
        cfg = adjust(cfg);
        return await DaemonProcess.StartAsync(cfg, output, async d =>
        {
            var cert = await d.RunToolAsync("tls", "new-server-cert", "-c", d.ConfigDir, "-n", $"mx.{domain}");
            Assert.True(cert.ExitCode == 0, cert.ToString());
            File.AppendAllText(d.MainCfPath, $"smtpd_tls_cert_file = {d.ConfigDir}/tls/cert.pem\nsmtpd_tls_key_file = {d.ConfigDir}/tls/key.pem\n");
            File.AppendAllText(Path.Combine(d.ConfigDir, "master.cf"), $"{address}:{mxPort} inet n - n - - smtpd\n");
        });
    }

    /// <summary>Waits until the MX listener of a site answers with 220 (after a restart).</summary>
    public static Task WaitForMxAsync(DaemonProcess site, IPAddress address, int port) =>
        Wait.UntilAsync(() => GreetsAsync(address, port), DaemonProcess.StartTimeout, $"{address}:{port} to greet", site.Diagnostics);

    private static async Task<bool> GreetsAsync(IPAddress address, int port)
    {
        using var client = new TcpClient();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.ConnectAsync(address, port, cts.Token);
            using var reader = new StreamReader(client.GetStream());
            string? line = await reader.ReadLineAsync(cts.Token);
            return line is not null && line.StartsWith("220 ", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    private static bool CanBind(IPAddress address, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (A is not null) await A.DisposeAsync();
        if (B is not null) await B.DisposeAsync();
        Dns.Dispose();
    }
}
