using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the administrator holds suspicious mail for inspection, runs an after-queue content
/// filter (Postfix FILTER_README), and the server copes with SMTP smuggling attempts and pre-greet talkers.</summary>
public sealed class ContentPolicyTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    private static async Task<string> SendAsync(DaemonProcess d, string subject, string body, string from = "alice@sender.example", int? port = null)
    {
        await using var smtp = await d.ConnectAsync(port);
        await smtp.CommandAsync("EHLO client.example");
        return await smtp.SendMailAsync(from, LocalRcpt, Token.Message(subject, body));
    }

    [Fact]
    public async Task Header_checks_HOLD_keeps_the_message_in_hold_until_postsuper_releases_it()
    {
        await using var d = await DaemonProcess.StartAsync(
            TestConfig.Default.With("header_checks", "regexp:$config_directory/header_checks"), output,
            dd => File.WriteAllTextAsync(Path.Combine(dd.ConfigDir, "header_checks"), "/^Subject:.*invoice/  HOLD inspect me\n"));
        string token = Token.New();
        string id = await SendAsync(d, "your invoice " + token, "pay " + token);
        // Postfix cleanup: "ID: hold: header Subject: … from localhost[127.0.0.1]; from=<…> to=<…> proto=ESMTP helo=<…>: inspect me".
        string line = await d.WaitForLogAsync(l => l.Contains($"{id}: hold: header Subject: your invoice {token} from ", StringComparison.Ordinal),
            "cleanup hold line");
        Assert.EndsWith($"; from=<alice@sender.example> to=<{LocalRcpt}> proto=ESMTP helo=<client.example>: inspect me", line);
        Assert.True(File.Exists(Path.Combine(d.QueueDirectory, "hold", id)), d.Diagnostics());
        // mailq marks a held message with '!' after its queue ID (Postfix showq).
        var listed = await d.RunToolAsync("mailq");
        Assert.Contains($"{id}!", listed.Stdout);
        Assert.DoesNotContain(d.MaillogLines(), l => l.Contains($"{id}: to=<", StringComparison.Ordinal));

        var released = await d.RunToolAsync("postsuper", "-H", id);
        Assert.True(released.ExitCode == 0, released.ToString());
        await d.RunToolAsync("postqueue", "-f");
        await d.WaitForMboxAsync(User, "pay " + token);
    }

    [Fact]
    public async Task Access_table_HOLD_on_the_sender_puts_the_message_in_hold()
    {
        var cfg = TestConfig.Default.With("smtpd_sender_restrictions", "check_sender_access inline:{ hold@sender.example=HOLD }");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        string held = await SendAsync(d, "held " + token, "held " + token, from: "hold@sender.example");
        string normal = await SendAsync(d, "normal " + token, "normal " + token);
        await d.WaitForMboxAsync(User, "normal " + token);
        Assert.True(File.Exists(Path.Combine(d.QueueDirectory, "hold", held)), d.Diagnostics());
        Assert.False(File.Exists(Path.Combine(d.QueueDirectory, "hold", normal)));
        // Postfix smtpd: "hold: RCPT from host[addr]: <hold@sender.example>: Sender address triggers HOLD action".
        await d.WaitForLogAsync(l => l.Contains(": hold: RCPT from ", StringComparison.Ordinal)
            && l.Contains("<hold@sender.example>: Sender address triggers HOLD action", StringComparison.Ordinal), "smtpd hold line");
    }

    [Fact]
    public async Task Content_filter_sends_the_message_through_the_filter_once_and_the_reinjection_port_delivers_it()
    {
        int reinject = FreePort.Next();
        // Postfix FILTER_README "simple" after-queue setup, with Posthorn's own smtpd as the filter: the filter
        // transport delivers to the re-injection smtpd, whose -o content_filter= stops a second pass.
        var cfg = TestConfig.Default.With("content_filter", $"scan:[127.0.0.1]:{reinject}");
        await using var d = await DaemonProcess.StartAsync(cfg, output, dd => File.AppendAllTextAsync(Path.Combine(dd.ConfigDir, "master.cf"), $"""
            local unix - n n - - local
            scan unix - - n - 10 smtp
            127.0.0.1:{reinject} inet n - n - - smtpd
              -o content_filter=

            """));
        string token = Token.New();
        string id = await SendAsync(d, "filtered " + token, "through the filter " + token);
        string sent = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{LocalRcpt}>", StringComparison.Ordinal)
            && l.Contains("status=sent", StringComparison.Ordinal), "delivery to the filter");
        Assert.Contains($"relay=127.0.0.1[127.0.0.1]:{reinject}", sent);
        Assert.Contains("postfix/smtp[", sent);
        var delivered = await d.WaitForMboxAsync(User, "through the filter " + token);
        var message = Assert.Single(delivered, m => m.Body.Contains(token, StringComparison.Ordinal));
        // Once through the filter: one copy, and the re-injected message went to local(8), not to the filter again.
        string local = await d.WaitForLogAsync(l => l.Contains("postfix/local[", StringComparison.Ordinal)
            && l.Contains($"to=<{LocalRcpt}>", StringComparison.Ordinal) && l.Contains("status=sent", StringComparison.Ordinal), "local delivery");
        Assert.DoesNotContain($"{id}:", local);
        Assert.Single(d.MaillogLines(), l => l.Contains("postfix/smtp[", StringComparison.Ordinal) && l.Contains("status=sent", StringComparison.Ordinal));
        // Two smtpd hops in the trace: the first acceptance and the re-injection.
        Assert.True(message.HeaderValues("Received").Count() >= 2, string.Join("\n", message.HeaderValues("Received")));
    }

    [Fact]
    public async Task Forbid_bare_newline_reject_refuses_a_smuggling_message_with_550_and_the_session_goes_on()
    {
        var cfg = (TestConfig.Default with { Mynetworks = "192.0.2.0/24" }).With("smtpd_forbid_bare_newline", "reject");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), 250);
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), 250);
        smtp.Expect(await smtp.CommandAsync("DATA"), 354);
        string token = Token.New();
        await smtp.SendRawAsync($"Subject: carrier {token}\r\n\r\nfirst part\n.\nMAIL FROM:<admin@{TestConfig.Myhostname}>\r\n.\r\n");
        // postconf(5) smtpd_forbid_bare_newline_reject_code = 550 (Postfix 3.9); only 521 would disconnect.
        smtp.Expect(await smtp.ReadReplyAsync(), $"550 5.5.2 {TestConfig.Myhostname} Error: bare <LF> received");
        string next = Token.New();
        await smtp.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message("after " + next, "after " + next));
        await d.WaitForMboxAsync(User, "after " + next);
        Assert.DoesNotContain(token, File.ReadAllText(d.MboxOf(User)));
    }

    [Fact]
    public async Task A_client_in_the_exclusions_may_end_data_with_a_bare_lf_dot()
    {
        // smtpd_forbid_bare_newline_exclusions = $mynetworks (127.0.0.0/8 here): nc-style LF lines keep working.
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), 250);
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), 250);
        smtp.Expect(await smtp.CommandAsync("DATA"), 354);
        string token = Token.New();
        await smtp.SendRawAsync($"Subject: nc {token}\n\ntyped {token}\n.\n");
        smtp.Expect(await smtp.ReadReplyAsync(), 250);
        await d.WaitForMboxAsync(User, "typed " + token);
    }

    [Fact]
    public async Task A_pregreet_talker_is_logged_and_dropped_with_521_while_a_polite_client_gets_the_banner()
    {
        // The wait stays well under the test kit's 10 s greeting timeout, which the start-up probe (a polite
        // client) has to meet.
        var cfg = TestConfig.Default.With("posthorn_pregreet_action", "drop").With("posthorn_pregreet_wait", "3s");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using (var rude = await RawSmtp.ConnectAsync(d.SmtpPort, readGreeting: false, d.Diagnostics))
        {
            await rude.SendLineAsync("EHLO rude.example");
            rude.Expect(await rude.ReadReplyAsync(), "521 5.5.1 Protocol error");
            Assert.True(await rude.IsClosedByServerAsync());
        }
        // postscreen(8): "PREGREET 19 after 0.01 from [127.0.0.1]:PORT: EHLO rude.example\r\n".
        string line = await d.WaitForLogAsync(l => l.Contains("postfix/postscreen[", StringComparison.Ordinal)
            && l.Contains(": PREGREET 19 after ", StringComparison.Ordinal), "PREGREET line");
        Assert.Contains(" from [127.0.0.1]:", line);
        Assert.EndsWith(": EHLO rude.example\\r\\n", line);
    }

    [Fact]
    public async Task Pregreet_enforce_answers_every_command_with_550_protocol_error()
    {
        var cfg = TestConfig.Default.With("posthorn_pregreet_action", "enforce").With("posthorn_pregreet_wait", "3s");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var rude = await RawSmtp.ConnectAsync(d.SmtpPort, readGreeting: false, d.Diagnostics);
        await rude.SendLineAsync("EHLO rude.example");
        rude.Expect(await rude.ReadReplyAsync(), 220);
        rude.Expect(await rude.ReadReplyAsync(), "550 5.5.1 Protocol error");
        rude.Expect(await rude.CommandAsync("MAIL FROM:<spam@rude.example>"), "550 5.5.1 Protocol error");
        rude.Expect(await rude.CommandAsync("QUIT"), 221);
        await d.WaitForLogAsync(l => l.Contains("NOQUEUE: reject: MAIL from localhost[127.0.0.1]: 550 5.5.1 Protocol error", StringComparison.Ordinal),
            "reject line");
    }

    /// <summary>A policy server that answers DUNNO to any number of requests per connection and counts connections.</summary>
    private sealed class PolicyServer : IAsyncDisposable
    {
        private readonly System.Net.Sockets.Socket _listener = new(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private int _accepted;
        public int Accepted => Volatile.Read(ref _accepted);
        public List<string> Requests { get; } = [];
        public int Port => ((System.Net.IPEndPoint)_listener.LocalEndPoint!).Port;

        public PolicyServer()
        {
            _listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            _listener.Listen();
            _loop = Task.Run(async () =>
            {
                var served = new List<Task>();
                while (true)
                {
                    System.Net.Sockets.Socket c;
                    try { c = await _listener.AcceptAsync(_stop.Token); }
                    catch (Exception) { break; }
                    Interlocked.Increment(ref _accepted);
                    served.Add(ServeAsync(c));
                }
                await Task.WhenAll(served);
            });
        }

        private async Task ServeAsync(System.Net.Sockets.Socket c)
        {
            using (c)
            {
                string pending = "";
                var buffer = new byte[4096];
                while (true)
                {
                    int n;
                    try { n = await c.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, _stop.Token); }
                    catch (Exception) { return; }
                    if (n == 0) return;
                    pending += System.Text.Encoding.UTF8.GetString(buffer, 0, n);
                    int end;
                    while ((end = pending.IndexOf("\n\n", StringComparison.Ordinal)) >= 0)
                    {
                        lock (Requests) Requests.Add(pending[..end]);
                        pending = pending[(end + 2)..];
                        await c.SendAsync("action=DUNNO\n\n"u8.ToArray(), System.Net.Sockets.SocketFlags.None);
                    }
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Dispose();
            await _loop;
        }
    }

    [Fact]
    public async Task Policy_service_connection_is_reused_across_sessions_and_data_stage_has_recipient_count_and_size()
    {
        await using var policy = new PolicyServer();
        string check = $"check_policy_service inet:127.0.0.1:{policy.Port}";
        var cfg = TestConfig.Default
            .With("smtpd_recipient_restrictions", $"{check}, permit_mynetworks, reject_unauth_destination")
            .With("smtpd_data_restrictions", check);
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        string token = Token.New();
        for (int session = 0; session < 2; session++)
        {
            await using var smtp = await d.ConnectAsync();
            await smtp.CommandAsync("EHLO client.example");
            smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example> SIZE=500"), 250);
            smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), 250);
            smtp.Expect(await smtp.CommandAsync($"RCPT TO:<postmaster@{TestConfig.Myhostname}>"), 250);
            smtp.Expect(await smtp.CommandAsync("DATA"), 354);
            smtp.Expect(await smtp.SendDataAsync(Token.Message($"policy {session} {token}", $"policy {session} {token}")), 250);
            smtp.Expect(await smtp.CommandAsync("QUIT"), 221);
        }
        // SMTPD_POLICY_README: the SMTP server keeps the connection to the policy server across requests.
        Assert.Equal(1, policy.Accepted);
        string[] requests;
        lock (policy.Requests) requests = [.. policy.Requests];
        Assert.Equal(6, requests.Length);   // per session: two RCPT, one DATA
        string data = requests[2];
        Assert.Contains("\nprotocol_state=DATA\n", data);
        Assert.Contains("\nrecipient_count=2\n", data);
        Assert.Contains("\nsize=500\n", data + "\n");
        Assert.Contains("recipient_count=0", requests[0]);
    }
}
