using System.Net.Sockets;
using System.Text;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a hostile or broken remote server cannot hurt the sending daemon: an endless greeting line
/// or multiline reply and invalid reply codes end that session as "malformed" (deferred, never bounced), a failed
/// TLS handshake falls back to plaintext only where smtp_tls_security_level allows it, and a queue file truncated
/// on disk goes to the corrupt queue without holding up the rest of the queue.</summary>
/// <remarks>The remote is a raw loopback <see cref="HostileRemote"/>, reached through transport(5)
/// <c>smtp:[127.0.0.1]:port</c>. Postfix smtp(8), TLS_README (levels may / encrypt), qmgr(8) (corrupt queue).</remarks>
public sealed class OutboundHostileTests(ITestOutputHelper output)
{
    private const string Sender = "alice@sender.example";
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    private static TestConfig RoutedTo(params (string Domain, HostileRemote Remote)[] routes) =>
        TestConfig.Default.With("transport_maps",
            "inline:{ " + string.Join(", ", routes.Select(r => $"{r.Domain}=smtp:[127.0.0.1]:{r.Remote.Port}")) + " }");

    private static async Task<string> SubmitAsync(DaemonProcess d, string rcpt, string token)
    {
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        return await smtp.SendMailAsync(Sender, rcpt, Token.Message($"hostile {token}", $"body {token}", to: rcpt));
    }

    private static Task<string> StatusLineAsync(DaemonProcess d, string id, string rcpt) =>
        d.WaitForLogAsync(l => l.Contains($"{id}: to=<{rcpt}>", StringComparison.Ordinal) && l.Contains("status=", StringComparison.Ordinal), $"{id} to {rcpt}");

    /// <summary>The daemon still delivers: a local message reaches the mbox.</summary>
    private static async Task StillDeliversAsync(DaemonProcess d)
    {
        string token = Token.New();
        await SubmitAsync(d, LocalRcpt, token);
        await d.WaitForMboxAsync(User, token);
    }

    [Fact]
    public async Task A_ten_megabyte_greeting_line_is_malformed_and_deferred_and_the_daemon_keeps_working()
    {
        string chunk = new('x', 64 * 1024);
        await using var remote = new HostileRemote(async (_, s, r) =>
        {
            if (!await r.TryWriteAsync(s, "220 ")) return;
            for (int i = 0; i < 160; i++)   // 10 MiB without a line end
                if (!await r.TryWriteAsync(s, chunk)) return;
            await r.TryWriteAsync(s, "\r\n");
            await Task.Delay(Timeout.Infinite, r.Stopping);
        });
        await using var d = await DaemonProcess.StartAsync(RoutedTo(("huge.test", remote)), output);
        string id = await SubmitAsync(d, "x@huge.test", Token.New());

        string line = await StatusLineAsync(d, id, "x@huge.test");
        Assert.Contains($"relay=127.0.0.1[127.0.0.1]:{remote.Port}, ", line);
        Assert.Contains("dsn=4.4.2, status=deferred (host 127.0.0.1[127.0.0.1] sent a malformed reply while receiving the initial server greeting)", line);
        await StillDeliversAsync(d);
        Assert.Contains(id, (await d.RunToolAsync("mailq")).Stdout);
    }

    [Fact]
    public async Task A_never_ending_multiline_reply_is_cut_off_and_deferred()
    {
        await using var remote = new HostileRemote(async (_, s, r) =>
        {
            while (await r.TryWriteAsync(s, "220-hostile.test this line never ends the reply\r\n")) { }
        });
        await using var d = await DaemonProcess.StartAsync(RoutedTo(("endless.test", remote)), output);
        string id = await SubmitAsync(d, "x@endless.test", Token.New());

        string line = await StatusLineAsync(d, id, "x@endless.test");
        Assert.Contains("dsn=4.4.2, status=deferred (host 127.0.0.1[127.0.0.1] sent a malformed reply while receiving the initial server greeting)", line);
        // The daemon hung up on the flood instead of reading it until smtp_helo_timeout.
        await Wait.UntilAsync(() => remote.ClientHungUp, TimeSpan.FromSeconds(30), "the daemon to close the endless reply's connection", d.Diagnostics);
        await StillDeliversAsync(d);
    }

    [Fact]
    public async Task Replies_with_invalid_codes_are_malformed_and_deferred_never_bounced()
    {
        // RFC 5321 §4.2: a reply line is a three-digit code 2yz–5yz, then SP or "-".
        static HostileRemote Sending(params string[] replies) => new(async (_, s, r) =>
        {
            using var reader = new StreamReader(s, Encoding.ASCII, false, 4096, leaveOpen: true);
            foreach (var reply in replies)
            {
                if (!await r.TryWriteAsync(s, reply)) return;
                if (await reader.ReadLineAsync(r.Stopping) is null) return;
            }
            await Task.Delay(Timeout.Infinite, r.Stopping);
        });
        await using var notSmtp = Sending("hello, this is not an SMTP server\r\n");
        await using var code999 = Sending("220 hostile.test ESMTP\r\n", "250-hostile.test\r\n999 what is this\r\n");
        await using var letterO = Sending("220 hostile.test ESMTP\r\n", "25O hostile.test\r\n");
        await using var d = await DaemonProcess.StartAsync(RoutedTo(("notsmtp.test", notSmtp), ("code999.test", code999), ("lettero.test", letterO)), output);

        foreach (var (domain, stage) in new[]
        {
            ("notsmtp.test", "receiving the initial server greeting"), ("code999.test", "EHLO"), ("lettero.test", "EHLO"),
        })
        {
            string rcpt = $"x@{domain}";
            string id = await SubmitAsync(d, rcpt, Token.New());
            string line = await StatusLineAsync(d, id, rcpt);
            Assert.Contains("dsn=4.4.2, status=deferred (host 127.0.0.1[127.0.0.1] sent a malformed reply while ", line);
            Assert.Contains(stage, line);
        }
        Assert.DoesNotContain(d.MaillogLines(), l => l.Contains("status=bounced", StringComparison.Ordinal));
    }

    /// <summary>Offers STARTTLS, says 220 to it, then answers the TLS ClientHello with plain text and hangs up.</summary>
    private static async Task BrokenTlsAsync(int session, NetworkStream s, HostileRemote r)
    {
        using var reader = new StreamReader(s, Encoding.ASCII, false, 4096, leaveOpen: true);
        if (!await r.TryWriteAsync(s, "220 hostile.test ESMTP\r\n")) return;
        while (await reader.ReadLineAsync(r.Stopping) is { } line)
        {
            r.Record(session, line);
            if (line.StartsWith("EHLO", StringComparison.OrdinalIgnoreCase)) await r.TryWriteAsync(s, "250-hostile.test\r\n250 STARTTLS\r\n");
            else if (line.Equals("STARTTLS", StringComparison.OrdinalIgnoreCase))
            {
                await r.TryWriteAsync(s, "220 2.0.0 Ready to start TLS\r\n");
                await r.TryWriteAsync(s, "this is not a TLS server hello\r\n");
                return;
            }
            else await r.TryWriteAsync(s, "502 5.5.1 not here\r\n");
        }
    }

    [Fact]
    public async Task A_failed_tls_handshake_at_level_may_is_retried_in_plaintext_and_delivered()
    {
        // Session 1 breaks the handshake; session 2 (the plaintext retry) is a good server.
        await using var remote = new HostileRemote((n, s, r) => n == 1 ? BrokenTlsAsync(n, s, r) : r.AcceptAsync(n, s, offerStartTls: true));
        await using var d = await DaemonProcess.StartAsync(RoutedTo(("tls.test", remote)).With("smtp_tls_security_level", "may"), output);
        string id = await SubmitAsync(d, "x@tls.test", Token.New());

        string line = await StatusLineAsync(d, id, "x@tls.test");
        Assert.Contains("dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as HOSTILE2)", line);
        string warning = await d.WaitForLogAsync($"TLS handshake with 127.0.0.1[127.0.0.1]:{remote.Port} failed");
        Assert.Contains("postfix/smtp[", warning);
        Assert.Contains("trying again without TLS", warning);
        Assert.Contains("1 STARTTLS", remote.Commands);
        Assert.DoesNotContain(remote.Commands, c => c.StartsWith("1 MAIL", StringComparison.Ordinal));
        Assert.DoesNotContain("2 STARTTLS", remote.Commands);
        Assert.Contains(remote.Commands, c => c.StartsWith($"2 MAIL FROM:<{Sender}>", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failed_tls_handshake_at_level_encrypt_defers_without_sending_in_plaintext()
    {
        await using var remote = new HostileRemote((n, s, r) => n == 1 ? BrokenTlsAsync(n, s, r) : r.AcceptAsync(n, s, offerStartTls: true));
        await using var d = await DaemonProcess.StartAsync(RoutedTo(("tls.test", remote)).With("smtp_tls_security_level", "encrypt"), output);
        string id = await SubmitAsync(d, "x@tls.test", Token.New());

        string line = await StatusLineAsync(d, id, "x@tls.test");
        // Postfix smtp(8) with TLS required: "dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)".
        Assert.Contains($"relay=127.0.0.1[127.0.0.1]:{remote.Port}, ", line);
        Assert.Contains("dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)", line);
        await d.WaitForLogAsync($"SSL_connect error to 127.0.0.1[127.0.0.1]:{remote.Port}: ");
        Assert.Equal(1, remote.Sessions);
        Assert.DoesNotContain(remote.Commands, c => c.Contains("MAIL FROM", StringComparison.Ordinal));
        Assert.DoesNotContain(d.MaillogLines(), l => l.Contains("trying again without TLS", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_queue_file_truncated_on_disk_goes_to_corrupt_and_the_rest_of_the_queue_is_delivered()
    {
        // First every message waits: local mail is routed to the retry service, which defers.
        var cfg = TestConfig.Default.With("transport_maps", $"inline:{{ {{{TestConfig.Myhostname}=retry:4.3.0 held for the test}} }}");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string[] tokens = [Token.New(), Token.New(), Token.New()];
        var ids = new List<string>();
        foreach (var token in tokens)
        {
            string id = await SubmitAsync(d, LocalRcpt, token);
            Assert.Contains("status=deferred (held for the test)", await StatusLineAsync(d, id, LocalRcpt));
            ids.Add(id);
        }
        await d.StopAsync();

        // The middle message's file loses its second half, as after a disk or file system fault.
        string victim = Path.Combine(d.QueueDirectory, "deferred", ids[1]);
        Assert.True(File.Exists(victim), $"{victim} is not in the deferred queue:{Environment.NewLine}{string.Join(Environment.NewLine, d.QueueFiles())}");
        using (var f = new FileStream(victim, FileMode.Open, FileAccess.Write)) f.SetLength(f.Length / 2);
        var edit = await d.RunToolAsync("postconf", "-e", "transport_maps=");
        Assert.True(edit.ExitCode == 0, edit.ToString());
        await d.StartAsync();
        var flush = await d.RunToolAsync("postqueue", "-f");
        Assert.True(flush.ExitCode == 0, flush.ToString());

        // Postfix qmgr(8): a queue file that cannot be read is moved to the corrupt queue, with a warning.
        string warning = await d.WaitForLogAsync($"{ids[1]}: corrupt queue file");
        Assert.Contains("postfix/qmgr[", warning);
        Assert.Contains("warning: ", warning);
        await Wait.UntilAsync(() => File.Exists(Path.Combine(d.QueueDirectory, "corrupt", ids[1])), DaemonProcess.DeliveryTimeout,
            $"{ids[1]} in the corrupt queue", d.Diagnostics);
        // The rest of the queue is unaffected.
        foreach (int i in new[] { 0, 2 })
        {
            Assert.Contains("status=sent (delivered to mailbox)", await d.WaitForLogAsync(
                l => l.Contains($"{ids[i]}: to=<{LocalRcpt}>", StringComparison.Ordinal) && l.Contains("status=sent", StringComparison.Ordinal), $"{ids[i]} sent"));
            await d.WaitForMboxAsync(User, tokens[i]);
            await d.WaitForLogAsync($"{ids[i]}: removed");
        }
        Assert.DoesNotContain(tokens[1], DaemonProcess.ReadAllShared(d.MboxOf(User)));
    }

    [Fact]
    public async Task A_dns_server_that_never_answers_defers_the_mail_and_never_bounces_it()
    {
        // A DNS "server" that reads every query and answers none: each MX lookup times out.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        int dnsPort = ((System.Net.IPEndPoint)silent.LocalEndPoint!).Port;
        var cfg = TestConfig.Default.With("posthorn_dns_servers", $"127.0.0.1:{dnsPort}");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string id = await SubmitAsync(d, "x@slow-dns.test", Token.New());

        // Postfix smtp(8): a temporary name service failure is 4.4.3 and the message waits in the queue.
        string line = await StatusLineAsync(d, id, "x@slow-dns.test");
        Assert.Contains("relay=none, ", line);
        Assert.Contains("dsn=4.4.3, status=deferred (Host or domain name not found. Name service error for name=slow-dns.test type=MX: Host not found, try again)", line);
        Assert.True(silent.Available > 0, "the daemon never asked the DNS server");
        Assert.Contains(id, (await d.RunToolAsync("mailq")).Stdout);
        Assert.DoesNotContain(d.MaillogLines(), l => l.Contains("status=bounced", StringComparison.Ordinal));
    }
}
