using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: hostile or broken clients (TLS on the wrong port, plain text on the smtps port, a slow
/// trickle, a client that never reads) are logged and dropped, and the daemon keeps delivering for everyone else.</summary>
public sealed class SmtpdHostileTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    /// <summary>The daemon with smtpd_timeout = 3s, a certificate, and an smtps (wrapper mode) row; returns that row's port.</summary>
    private async Task<(DaemonProcess Daemon, int Smtps)> StartAsync()
    {
        var d = DaemonProcess.Create(TestConfig.Default.With("smtpd_timeout", "3s"), output);
        try
        {
            string dir = d.ConfigDir;
            var cert = await d.RunToolAsync("tls", "new-server-cert", "-c", dir);
            Assert.True(cert.ExitCode == 0, cert.ToString());
            File.AppendAllText(Path.Combine(dir, "main.cf"), $"""

                smtpd_tls_cert_file = {dir}/tls/cert.pem
                smtpd_tls_key_file = {dir}/tls/key.pem

                """);
            int smtps = FreePort.Next();
            File.AppendAllText(Path.Combine(dir, "master.cf"), $"""
                127.0.0.1:{smtps} inet n - n - - smtpd
                  -o smtpd_tls_wrappermode=yes

                """);
            await d.StartAsync();
            return (d, smtps);
        }
        catch
        {
            await d.DisposeAsync();
            throw;
        }
    }

    /// <summary>A well-behaved client submits a message and it reaches the mailbox.</summary>
    private static async Task AssertStillDeliversAsync(DaemonProcess d)
    {
        string token = Token.New();
        await using (var smtp = await d.ConnectAsync())
        {
            smtp.Expect(await smtp.CommandAsync("EHLO client.example"), 250);
            await smtp.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message(token, "still serving " + token));
            smtp.Expect(await smtp.CommandAsync("QUIT"), "221 2.0.0 Bye");
        }
        await d.WaitForMboxAsync(User, "still serving " + token);
    }

    /// <summary>Reads until the server closes the connection (or 30 s pass) and returns what it sent.</summary>
    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var all = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, deadline.Token)) > 0) all.Write(buffer, 0, n);
        }
        catch (IOException)
        {
            // reset by the server: closed as well
        }
        return all.ToArray();
    }

    [Fact]
    public async Task A_tls_client_hello_on_the_plain_port_is_refused_logged_and_the_daemon_keeps_serving()
    {
        var (d, _) = await StartAsync();
        await using var _d = d;
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", d.SmtpPort);
            var network = tcp.GetStream();
            // Read the 220 greeting first, so that the server sees the ClientHello as the client's first "command".
            var greeting = new StringBuilder();
            var one = new byte[1];
            while (!greeting.ToString().EndsWith('\n') && await network.ReadAsync(one) == 1) greeting.Append((char)one[0]);
            Assert.StartsWith("220 ", greeting.ToString());
            using var ssl = new SslStream(network, leaveInnerStreamOpen: true, (_, _, _, _) => true);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var e = await Record.ExceptionAsync(() => ssl.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions { TargetHost = TestConfig.Myhostname }, deadline.Token));
            Assert.True(e is AuthenticationException or IOException, $"expected the handshake to fail, got {e}");
        }
        // The session ends (the server answers the binary bytes with SMTP errors or drops them) and is logged.
        await d.WaitForLogAsync(l => l.Contains("disconnect from", StringComparison.Ordinal), "the session's disconnect line");
        await AssertStillDeliversAsync(d);
    }

    [Fact]
    public async Task A_plain_command_on_the_smtps_port_fails_the_handshake_is_logged_and_the_daemon_keeps_serving()
    {
        var (d, smtps) = await StartAsync();
        await using var _d = d;
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", smtps);
            var stream = tcp.GetStream();
            await stream.WriteAsync("EHLO client.example\r\n"u8.ToArray());
            string answer = Encoding.Latin1.GetString(await ReadToEndAsync(stream));
            Assert.DoesNotContain("250", answer);   // no SMTP dialogue in the clear on the wrapper port
        }
        await d.WaitForLogAsync("SSL_accept error from");
        await AssertStillDeliversAsync(d);
    }

    [Fact]
    public async Task A_client_sending_one_byte_a_second_times_out_after_smtpd_timeout_and_is_dropped()
    {
        var (d, _) = await StartAsync();
        await using var _d = d;
        await using (var slow = await d.ConnectAsync())
        {
            slow.Expect(await slow.CommandAsync("EHLO slow.example"), 250);
            using var stop = new CancellationTokenSource();
            // 34 bytes at one a second: far longer than smtpd_timeout (3s), although no single read waits that long.
            var trickle = Task.Run(async () =>
            {
                foreach (byte b in "MAIL FROM:<slow@sender.example>\r\n"u8.ToArray())
                {
                    await slow.SendRawAsync([b]);
                    await Task.Delay(TimeSpan.FromSeconds(1), stop.Token);
                }
            });
            var reply = await slow.ReadReplyAsync();
            slow.Expect(reply, $"421 4.4.2 {TestConfig.Myhostname} Error: timeout exceeded");
            Assert.False(trickle.IsCompleted && trickle.Exception is null, "the whole line was sent before the timeout");
            await stop.CancelAsync();
            await Record.ExceptionAsync(() => trickle);
        }
        // Postfix smtpd: "timeout after EHLO from host[addr]".
        await d.WaitForLogAsync("timeout after EHLO from");
        await AssertStillDeliversAsync(d);
    }

    [Fact]
    public async Task A_client_that_never_reads_is_not_buffered_without_bound_and_others_are_served_meanwhile()
    {
        var (d, _) = await StartAsync();
        await using var _d = d;
        const long Plenty = 256L * 1024 * 1024;
        long sent = 0;
        using var tcp = new TcpClient { ReceiveBufferSize = 4096 };
        await tcp.ConnectAsync("127.0.0.1", d.SmtpPort);
        var stream = tcp.GetStream();
        byte[] batch = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("EHLO client.example\r\n", 1000)));
        // Pipelined EHLOs, each answered by a multi-line reply that this client never reads.
        var writer = Task.Run(async () =>
        {
            while (Interlocked.Read(ref sent) < Plenty)
            {
                await stream.WriteAsync(batch);
                Interlocked.Add(ref sent, batch.Length);
            }
        });
        await Wait.UntilAsync(() => Interlocked.Read(ref sent) >= batch.Length * 10L || writer.IsCompleted,
            TimeSpan.FromSeconds(30), "the first pipelined batches", d.Diagnostics);
        // While that client is stuck, another one is served.
        await AssertStillDeliversAsync(d);
        // The server stops reading once its replies cannot be sent, and drops the client after smtpd_timeout.
        var e = await Record.ExceptionAsync(() => writer.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.True(e is IOException or SocketException, $"expected the server to drop the writer, got {e?.ToString() ?? "no error"}");
        Assert.True(Interlocked.Read(ref sent) < Plenty, $"the server took all {sent} bytes");
        await d.WaitForLogAsync("timeout after EHLO from");
        await AssertStillDeliversAsync(d);
    }
}
