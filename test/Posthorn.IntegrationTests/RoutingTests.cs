using System.Net;
using System.Net.Sockets;
using System.Text;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the administrator routes mail as with Postfix — transport_maps, virtual mailbox
/// domains, error: and discard: transports, mailbox_transport to an LMTP store — and a slow destination
/// never holds up the others.</summary>
/// <remarks>Postfix trivial-rewrite(8), transport(5), qmgr(8), lmtp(8), virtual(8), error(8); RFC 2033.
/// Next hops are <c>[127.0.0.1]:port</c> (the kit's DNS goes to a dead port).</remarks>
public sealed class RoutingTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    [Fact]
    public async Task Transport_maps_send_one_domain_to_an_lmtp_server_and_logs_postfix_lmtp_lines()
    {
        await using var store = new ScriptedServer(lmtp: true);
        var cfg = TestConfig.Default.With("transport_maps", $"inline:{{ store.test=lmtp:[127.0.0.1]:{store.Port} }}");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync("alice@sender.example", ["bob@store.test", "carol@store.test"], Token.Message(token, "lmtp " + token, to: "bob@store.test"));
        }

        foreach (var rcpt in new[] { "bob@store.test", "carol@store.test" })
        {
            string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{rcpt}>", StringComparison.Ordinal), $"{id} to {rcpt}");
            Assert.Contains("postfix/lmtp[", line);
            Assert.Contains($"relay=127.0.0.1[127.0.0.1]:{store.Port}", line);
            Assert.Contains($"status=sent (250 2.0.0 <{rcpt}> Saved)", line);
        }
        Assert.Equal("LHLO " + TestConfig.Myhostname, store.Commands[0]);
        Assert.Contains(token, Assert.Single(store.Messages));
        await d.WaitForLogAsync($"{id}: removed");
    }

    [Fact]
    public async Task Virtual_mailbox_domain_is_delivered_by_virtual8_into_a_maildir()
    {
        var vmail = Directory.CreateTempSubdirectory("posthorn-vmail-");
        try
        {
            File.SetUnixFileMode(vmail.FullName, (UnixFileMode)0b111_101_101);
            uint uid = Unix.EffectiveUid;
            var cfg = TestConfig.Default
                .With("virtual_mailbox_domains", "hosted.test")
                .With("virtual_mailbox_base", vmail.FullName)
                .With("virtual_mailbox_maps", "inline:{ ann@hosted.test=hosted.test/ann/ }")
                .With("virtual_uid_maps", $"static:{uid}")
                .With("virtual_gid_maps", $"static:{uid}")
                .With("virtual_minimum_uid", "0");
            await using var d = await DaemonProcess.StartAsync(cfg, output);
            string token = Token.New();
            string id;
            await using (var smtp = await d.ConnectAsync())
            {
                await smtp.CommandAsync("EHLO client.example");
                id = await smtp.SendMailAsync("alice@sender.example", "ann@hosted.test", Token.Message(token, "virtual " + token, to: "ann@hosted.test"));
            }

            string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<ann@hosted.test>", StringComparison.Ordinal), $"{id} virtual");
            Assert.Contains("postfix/virtual[", line);
            Assert.Contains("relay=virtual", line);
            Assert.Contains("status=sent (delivered to maildir)", line);
            string newDir = Path.Combine(vmail.FullName, "hosted.test", "ann", "new");
            string file = Assert.Single(Directory.GetFiles(newDir));
            Assert.Contains(token, File.ReadAllText(file));
        }
        finally
        {
            vmail.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Error_transport_bounces_with_its_text_and_the_sender_gets_the_notice()
    {
        var cfg = TestConfig.Default.With("transport_maps", "inline:{ {closed.test=error:5.7.1 closed for business} }");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync(LocalRcpt, "x@closed.test", Token.Message(token, "to be refused " + token, to: "x@closed.test"));
        }

        string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<x@closed.test>", StringComparison.Ordinal), $"{id} error");
        Assert.Contains("postfix/error[", line);
        Assert.Contains("relay=none", line);
        Assert.Contains("dsn=5.7.1, status=bounced (closed for business)", line);
        // bounce(8): the notice reaches the local sender, quoting the reason.
        var mbox = await d.WaitForMboxAsync(User, token);
        Assert.Contains(mbox, m => m.Body.Contains("closed for business", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unknown_transport_defers_with_mail_transport_unavailable_retry_defers_and_discard_reports_sent()
    {
        var cfg = TestConfig.Default.With("transport_maps", "inline:{ nowhere.test=bogus:, void.test=discard:silenced, {later.test=retry:4.7.0 try again later} }");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync("alice@sender.example", ["x@nowhere.test", "y@void.test", "z@later.test"], Token.Message(token, "t " + token));
        }

        string deferred = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<x@nowhere.test>", StringComparison.Ordinal), $"{id} unavailable");
        Assert.Contains("postfix/qmgr[", deferred);
        Assert.Contains("dsn=4.3.0, status=deferred (mail transport unavailable)", deferred);
        string discarded = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<y@void.test>", StringComparison.Ordinal), $"{id} discard");
        Assert.Contains("postfix/discard[", discarded);
        Assert.Contains("dsn=2.0.0, status=sent (silenced)", discarded);
        // The retry service is error(8) deferring with the next hop as the reason.
        string retried = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<z@later.test>", StringComparison.Ordinal), $"{id} retry");
        Assert.Contains("postfix/error[", retried);
        Assert.Contains("dsn=4.7.0, status=deferred (try again later)", retried);
        await d.WaitForLogAsync("warning: connect to transport private/bogus: No such file or directory");
        var mailq = await d.RunToolAsync("mailq");
        Assert.Contains("x@nowhere.test", mailq.Stdout);
        Assert.DoesNotContain("y@void.test", mailq.Stdout);
    }

    [Fact]
    public async Task Mailbox_transport_and_fallback_transport_hand_local_mail_to_lmtp()
    {
        await using var store = new ScriptedServer(lmtp: true);
        var cfg = TestConfig.Default
            .With("mailbox_transport", $"lmtp:[127.0.0.1]:{store.Port}")
            .With("fallback_transport", $"lmtp:[127.0.0.1]:{store.Port}")
            // Postfix local(8): with fallback_transport, unknown names must get past smtpd.
            .With("local_recipient_maps", "");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string stranger = $"{token}@{TestConfig.Myhostname}";
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync("alice@sender.example", [LocalRcpt, stranger], Token.Message(token, "store " + token));
        }

        foreach (var rcpt in new[] { LocalRcpt, stranger })
        {
            string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{rcpt}>", StringComparison.Ordinal), $"{id} to {rcpt}");
            Assert.Contains("postfix/lmtp[", line);
            Assert.Contains("status=sent (250 2.0.0", line);
        }
        Assert.Contains($"RCPT TO:<{LocalRcpt}>", store.Commands);
        Assert.Contains($"RCPT TO:<{stranger}>", store.Commands);
        // local(8) itself wrote nothing: the mbox does not exist or lacks the message.
        Assert.DoesNotContain(token, DaemonProcess.ReadAllShared(d.MboxOf(User)));
    }

    [Fact]
    public async Task A_destination_that_stalls_does_not_hold_up_delivery_to_another()
    {
        await using var slow = new ScriptedServer(lmtp: false) { Stall = true };
        await using var fast = new ScriptedServer(lmtp: false);
        var cfg = TestConfig.Default.With("transport_maps",
            $"inline:{{ slow.test=smtp:[127.0.0.1]:{slow.Port}, fast.test=smtp:[127.0.0.1]:{fast.Port} }}");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string slowId = await smtp.SendMailAsync("alice@sender.example", "x@slow.test", Token.Message(token, "slow " + token));
        // The stalled session is open (no greeting for smtp_helo_timeout = 300s) before the second message arrives.
        await Wait.UntilAsync(() => slow.Sessions > 0, DaemonProcess.DeliveryTimeout, "a connection to the stalling server", d.Diagnostics);
        string fastId = await smtp.SendMailAsync("alice@sender.example", "y@fast.test", Token.Message(token, "fast " + token));

        string line = await d.WaitForLogAsync(l => l.Contains($"{fastId}: to=<y@fast.test>", StringComparison.Ordinal), $"{fastId} sent");
        Assert.Contains("status=sent", line);
        Assert.DoesNotContain(d.MaillogLines(), l => l.Contains($"{slowId}: to=<x@slow.test>", StringComparison.Ordinal));
    }

    /// <summary>A scripted SMTP or LMTP server on 127.0.0.1 that accepts everything; with
    /// <see cref="Stall"/> it accepts connections and never says a word.</summary>
    private sealed class ScriptedServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accept;
        private readonly bool _lmtp;
        private int _sessions;

        public ScriptedServer(bool lmtp)
        {
            _lmtp = lmtp;
            _listener.Start();
            _accept = AcceptAsync();
        }

        public bool Stall { get; init; }
        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
        public int Sessions => Volatile.Read(ref _sessions);
        public List<string> Commands { get; } = [];
        public List<string> Messages { get; } = [];

        private async Task AcceptAsync()
        {
            while (true)
            {
                Socket s;
                try { s = await _listener.AcceptSocketAsync(_stop.Token); }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
                Interlocked.Increment(ref _sessions);
                _ = Task.Run(() => ServeAsync(s));
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            using var _ = socket;
            await using var stream = new NetworkStream(socket);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\r\n", AutoFlush = true };
            try
            {
                if (Stall)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                    return;
                }
                await writer.WriteLineAsync("220 store.test ESMTP");
                var accepted = new List<string>();
                while (await reader.ReadLineAsync(_stop.Token) is { } line)
                {
                    lock (Commands) Commands.Add(line);
                    string verb = line.Split(' ')[0].ToUpperInvariant();
                    if (verb is "EHLO" or "LHLO") await writer.WriteLineAsync("250-store.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES");
                    else if (verb == "MAIL") { accepted.Clear(); await writer.WriteLineAsync("250 2.1.0 Ok"); }
                    else if (verb == "RCPT") { accepted.Add(line[(line.IndexOf('<') + 1)..line.LastIndexOf('>')]); await writer.WriteLineAsync("250 2.1.5 Ok"); }
                    else if (verb == "DATA")
                    {
                        await writer.WriteLineAsync("354 go ahead");
                        var body = new StringBuilder();
                        while (await reader.ReadLineAsync(_stop.Token) is { } l && l != ".") body.Append(l).Append('\n');
                        lock (Messages) Messages.Add(body.ToString());
                        // RFC 2033 §4.2: one reply per accepted recipient.
                        foreach (var r in _lmtp ? accepted : ["queued"])
                            await writer.WriteLineAsync(_lmtp ? $"250 2.0.0 <{r}> Saved" : "250 2.0.0 Ok: queued as FAST1");
                    }
                    else if (verb == "QUIT") { await writer.WriteLineAsync("221 2.0.0 Bye"); return; }
                    else await writer.WriteLineAsync("250 2.0.0 Ok");
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException) { }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _accept;
            _stop.Dispose();
        }
    }
}
