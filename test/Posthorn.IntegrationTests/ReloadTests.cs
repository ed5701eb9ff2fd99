using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MailKit.Net.Imap;
using MailKit.Net.Smtp;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 8): the administrator edits master.cf or renews a certificate and runs
/// <c>postfix reload</c>; as with Postfix's master(8), new rows start listening, rows that are gone stop (sessions
/// already open finish), a row whose port changed moves, and new TLS sessions see the renewed certificate.</summary>
public sealed class ReloadTests(ITestOutputHelper output)
{
    private static string MasterCf(DaemonProcess d) => Path.Combine(d.ConfigDir, "master.cf");

    private static async Task ReloadAsync(DaemonProcess d)
    {
        var r = await d.RunToolAsync("postfix", "reload");
        Assert.True(r.ExitCode == 0, r + Environment.NewLine + d.Diagnostics());
    }

    /// <summary>True when a connection to 127.0.0.1:<paramref name="port"/> is refused (nothing listens).</summary>
    private static async Task<bool> RefusedAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
    }

    /// <summary>A raw IMAP connection: connects and returns it with the greeting line read.</summary>
    private static async Task<(TcpClient Client, StreamReader Reader, string Greeting)> ImapConnectAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        client.ReceiveTimeout = 30_000;
        var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
        string greeting = await reader.ReadLineAsync() ?? "";
        return (client, reader, greeting);
    }

    [Fact]
    public async Task An_imapd_row_added_by_reload_answers_and_once_removed_refuses_new_connections_while_open_sessions_finish()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        int port = FreePort.Next();
        string original = File.ReadAllText(MasterCf(d));
        Assert.True(await RefusedAsync(port), "nothing listens on the new port before the reload");

        File.WriteAllText(MasterCf(d), original + $"127.0.0.1:{port} inet n - n - - imapd\n");
        await ReloadAsync(d);
        var (client, reader, greeting) = await ImapConnectAsync(port);
        using (client)
        {
            Assert.StartsWith("* OK", greeting, StringComparison.Ordinal);

            File.WriteAllText(MasterCf(d), original);
            await ReloadAsync(d);
            Assert.True(await RefusedAsync(port), "the removed row's port refuses connections after the reload" + Environment.NewLine + d.Diagnostics());

            // The session accepted before the reload goes on.
            var stream = client.GetStream();
            await stream.WriteAsync("a1 NOOP\r\n"u8.ToArray());
            Assert.Equal("a1 OK NOOP completed.", await reader.ReadLineAsync());
            await stream.WriteAsync("a2 LOGOUT\r\n"u8.ToArray());
            Assert.StartsWith("* BYE", await reader.ReadLineAsync(), StringComparison.Ordinal);
        }
        Assert.True(await DaemonProcess.GreetsAsync(d.SmtpPort), "the smtpd row is untouched by both reloads");
    }

    [Fact]
    public async Task A_unix_lmtpd_row_added_by_reload_answers_on_its_socket_and_once_removed_its_socket_is_gone()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string original = File.ReadAllText(MasterCf(d));
        string path = Path.Combine(d.QueueDirectory, "private", "lmtp-reload");
        File.WriteAllText(MasterCf(d), original + "lmtp-reload unix - - n - - lmtpd\n");

        await ReloadAsync(d);
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
            using var reader = new StreamReader(new NetworkStream(socket), Encoding.ASCII);
            Assert.StartsWith("220 ", await reader.ReadLineAsync(), StringComparison.Ordinal);
        }

        File.WriteAllText(MasterCf(d), original);
        await ReloadAsync(d);
        Assert.False(File.Exists(path), $"{path} is removed with its row");
    }

    [Fact]
    public async Task A_changed_smtpd_port_is_bound_by_reload_and_the_old_port_refuses()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        int oldPort = d.SmtpPort, newPort = FreePort.Next();
        string cf = File.ReadAllText(MasterCf(d));
        Assert.Contains($"127.0.0.1:{oldPort} inet", cf, StringComparison.Ordinal);
        File.WriteAllText(MasterCf(d), cf.Replace($"127.0.0.1:{oldPort} inet", $"127.0.0.1:{newPort} inet", StringComparison.Ordinal));

        await ReloadAsync(d);
        Assert.True(await DaemonProcess.GreetsAsync(newPort), "the new port greets" + Environment.NewLine + d.Diagnostics());
        Assert.True(await RefusedAsync(oldPort), "the old port refuses" + Environment.NewLine + d.Diagnostics());
    }

    [Fact]
    public async Task A_changed_inet_interfaces_is_ignored_by_reload_as_Postfix_master_does()
    {
        int port = FreePort.Next();
        await using var d = await DaemonProcess.StartAsync(output: output,
            configure: d => { File.AppendAllText(MasterCf(d), $"{port} inet n - n - - smtpd\n"); return Task.CompletedTask; });
        Assert.True(await DaemonProcess.GreetsAsync(port), "the row without a host listens on inet_interfaces (loopback-only)");
        string mainCf = File.ReadAllText(d.MainCfPath);
        File.WriteAllText(d.MainCfPath, mainCf.Replace("inet_interfaces = loopback-only\n", "inet_interfaces = 127.0.0.2\n", StringComparison.Ordinal));

        await ReloadAsync(d);
        await d.WaitForLogAsync(l => l.Contains("postfix/master[", StringComparison.Ordinal)
            && l.Contains("warning: to change inet_interfaces, stop and start Postfix", StringComparison.Ordinal), "the master's warning");
        Assert.True(await DaemonProcess.GreetsAsync(port), "the row keeps its start address" + Environment.NewLine + d.Diagnostics());
    }

    [Fact]
    public async Task A_row_whose_port_is_taken_is_a_master_warning_and_the_rest_of_the_reload_goes_on()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        using var squatter = new TcpListener(IPAddress.Loopback, FreePort.Next());
        squatter.Start();
        int taken = ((IPEndPoint)squatter.LocalEndpoint).Port, free = FreePort.Next();
        File.AppendAllText(MasterCf(d), $"127.0.0.1:{taken} inet n - n - - imapd\n127.0.0.1:{free} inet n - n - - smtpd\n");

        await ReloadAsync(d);
        await d.WaitForLogAsync(l => l.Contains("postfix/master[", StringComparison.Ordinal)
            && l.Contains($"warning: 127.0.0.1:{taken}/inet: bind 127.0.0.1 port {taken}: ", StringComparison.Ordinal), "the bind warning");
        Assert.True(await DaemonProcess.GreetsAsync(free), "the other new row listens" + Environment.NewLine + d.Diagnostics());
        Assert.True(await DaemonProcess.GreetsAsync(d.SmtpPort), "the daemon runs on");
    }

    [Fact]
    public async Task A_row_on_a_privileged_port_listens_after_reload_when_started_as_root_and_is_a_bind_warning_otherwise()
    {
        // As root the daemon drops to nobody and binds the port with its saved root; as an ordinary user it cannot.
        var config = Unix.IsRoot ? TestConfig.Default.With("mail_owner", "nobody") : TestConfig.Default;
        await using var d = DaemonProcess.Create(config, output);
        if (Unix.IsRoot) File.SetUnixFileMode(d.ConfigDir, (UnixFileMode)0b111_101_101);   // readable by nobody
        await d.StartAsync();
        int port = PrivilegedFreePort();
        File.AppendAllText(MasterCf(d), $"127.0.0.1:{port} inet n - n - - smtpd\n");

        await ReloadAsync(d);
        if (Unix.IsRoot)
        {
            // The daemon really runs as nobody (real, effective, saved, filesystem uid in /proc: "Uid: r e s fs").
            uint nobody = await Unix.UidOfAsync("nobody") ?? throw new Xunit.Sdk.XunitException("no passwd entry for nobody");
            string uids = File.ReadAllLines($"/proc/{d.Pid}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            Assert.Equal($"Uid:\t{nobody}\t{nobody}\t0\t{nobody}", uids);
            Assert.True(await DaemonProcess.GreetsAsync(port), $"port {port} greets" + Environment.NewLine + d.Diagnostics());
        }
        else
        {
            await d.WaitForLogAsync(l => l.Contains($"warning: 127.0.0.1:{port}/inet: bind 127.0.0.1 port {port}: ", StringComparison.Ordinal),
                "the bind warning");
            Assert.True(await RefusedAsync(port));
        }
    }

    /// <summary>A port below 1024 that nothing listens on (probed by connecting, which any user may do).</summary>
    private static int PrivilegedFreePort()
    {
        for (int port = 1000; port > 600; port--)
        {
            using var client = new TcpClient();
            try { client.Connect(IPAddress.Loopback, port); }
            catch (SocketException) { return port; }
        }
        throw new InvalidOperationException("no free privileged port");
    }

    [Fact]
    public async Task Replaced_certificate_files_are_seen_by_new_IMAP_and_SMTP_STARTTLS_sessions_after_reload()
    {
        var config = (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = "imapd" })
            .With("smtpd_tls_cert_file", "$config_directory/tls/cert.pem").With("smtpd_tls_key_file", "$config_directory/tls/key.pem")
            .With("smtpd_tls_security_level", "may");
        await using var d = DaemonProcess.Create(config, output);
        var first = await d.RunToolAsync("tls", "new-server-cert", "-n", "first.example");
        Assert.True(first.ExitCode == 0, first.Output);
        await d.StartAsync();
        string certFile = Path.Combine(d.ConfigDir, "tls", "cert.pem");
        string before = X509Certificate2.CreateFromPem(File.ReadAllText(certFile)).Thumbprint;
        Assert.Equal(before, await ImapCertificateAsync(d.SecondSmtpPort!.Value));
        Assert.Equal(before, await SmtpCertificateAsync(d.SmtpPort));

        var renewed = await d.RunToolAsync("tls", "new-server-cert", "-n", "renewed.example", "-f");
        Assert.True(renewed.ExitCode == 0, renewed.Output);
        string after = X509Certificate2.CreateFromPem(File.ReadAllText(certFile)).Thumbprint;
        Assert.NotEqual(before, after);
        Assert.Equal(before, await ImapCertificateAsync(d.SecondSmtpPort!.Value));   // read at bind time, until the reload

        await ReloadAsync(d);
        Assert.Equal(after, await ImapCertificateAsync(d.SecondSmtpPort!.Value));
        Assert.Equal(after, await SmtpCertificateAsync(d.SmtpPort));
    }

    private static async Task<string?> ImapCertificateAsync(int port)
    {
        string? seen = null;
        using var imap = new ImapClient { Timeout = 30_000 };
        imap.ServerCertificateValidationCallback = (_, cert, _, _) => { seen = cert?.GetCertHashString(); return true; };
        await imap.ConnectAsync("127.0.0.1", port, SecureSocketOptions.StartTls);
        await imap.DisconnectAsync(quit: true);
        return seen;
    }

    private static async Task<string?> SmtpCertificateAsync(int port)
    {
        string? seen = null;
        using var smtp = new SmtpClient { Timeout = 30_000 };
        smtp.ServerCertificateValidationCallback = (_, cert, _, _) => { seen = cert?.GetCertHashString(); return true; };
        await smtp.ConnectAsync("127.0.0.1", port, SecureSocketOptions.StartTls);
        await smtp.DisconnectAsync(quit: true);
        return seen;
    }
}
