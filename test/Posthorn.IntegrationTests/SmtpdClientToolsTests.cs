using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: scripts submit mail with the everyday command-line clients: curl over <c>smtp://</c> and
/// <c>smtps://</c>, <c>swaks --pipeline</c>, and <c>openssl s_client -starttls smtp</c>, against the real daemon.</summary>
public sealed class SmtpdClientToolsTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    /// <summary>The daemon with a certificate, STARTTLS offered (may) on the main port, and an smtps (wrapper mode) row.</summary>
    private async Task<(DaemonProcess Daemon, int Smtps)> StartAsync()
    {
        var d = DaemonProcess.Create(TestConfig.Default, output);
        try
        {
            string dir = d.ConfigDir;
            var cert = await d.RunToolAsync("tls", "new-server-cert", "-c", dir);
            Assert.True(cert.ExitCode == 0, cert.ToString());
            File.AppendAllText(Path.Combine(dir, "main.cf"), $"""

                smtpd_tls_cert_file = {dir}/tls/cert.pem
                smtpd_tls_key_file = {dir}/tls/key.pem
                smtpd_tls_security_level = may
                smtpd_tls_received_header = yes

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

    /// <summary>Sends a message file with curl to <paramref name="url"/> and returns the delivered message.</summary>
    private static async Task<StoredMessage> CurlAsync(DaemonProcess d, string url, string token)
    {
        string file = Path.Combine(d.ConfigDir, $"curl-{token}.eml");
        File.WriteAllText(file, Token.Message($"curl {token}", $"sent by curl {token}").ReplaceLineEndings("\r\n"));
        var r = await ExternalTool.RunAsync("curl", "curl",
        [
            "-sS", "-k", "--max-time", "30", "--url", url,
            "--mail-from", "alice@sender.example", "--mail-rcpt", LocalRcpt, "--upload-file", file,
        ]);
        Assert.True(r.ExitCode == 0, $"curl failed:{Environment.NewLine}{r}{Environment.NewLine}{d.Diagnostics()}");
        return Assert.Single(await d.WaitForMboxAsync(User, "sent by curl " + token), m => m.Body.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Curl_smtp_url_with_mail_rcpt_is_delivered()
    {
        var (d, _) = await StartAsync();
        await using var _d = d;
        string token = Token.New();
        var m = await CurlAsync(d, $"smtp://127.0.0.1:{d.SmtpPort}", token);
        Assert.Equal($"curl {token}", m.Header("Subject"));
        Assert.Contains("with ESMTP id", m.Header("Received"));
    }

    [Fact]
    public async Task Curl_smtps_url_is_delivered_over_tls()
    {
        var (d, smtps) = await StartAsync();
        await using var _d = d;
        string token = Token.New();
        var m = await CurlAsync(d, $"smtps://127.0.0.1:{smtps}", token);
        Assert.Contains("with ESMTPS id", m.Header("Received"));
        Assert.Contains("(using TLSv1.", m.Header("Received"));
    }

    [Fact]
    public async Task Swaks_pipeline_sends_the_envelope_in_one_batch_and_is_delivered()
    {
        var (d, _) = await StartAsync();
        await using var _d = d;
        string token = Token.New();
        var r = await ExternalTool.RunAsync("swaks", "swaks",
        [
            "--server", $"127.0.0.1:{d.SmtpPort}", "--pipeline", "--to", $"{LocalRcpt},postmaster@{TestConfig.Myhostname}",
            "--from", "alice@sender.example", "--helo", "client.example",
            "--header", $"Subject: pipelined {token}", "--body", $"pipelined {token}", "--timeout", "30",
        ]);
        Assert.True(r.ExitCode == 0, $"swaks --pipeline failed:{Environment.NewLine}{r}{Environment.NewLine}{d.Diagnostics()}");
        Assert.Contains("PIPELINING", r.Stdout);
        Assert.Contains("250 2.0.0 Ok: queued as", r.Stdout);
        await d.WaitForMboxAsync(User, "pipelined " + token);
    }

    [Fact]
    public async Task Openssl_s_client_starttls_smtp_submits_a_message()
    {
        const string OpenSsl = "/usr/bin/openssl";
        if (!File.Exists(OpenSsl))
        {
            output.WriteLine($"{OpenSsl} is not installed: openssl s_client -starttls smtp not tested");
            return;
        }
        var (d, _) = await StartAsync();
        await using var _d = d;
        string token = Token.New();
        string dialogue = string.Join("\n",
            "EHLO client.example", "MAIL FROM:<alice@sender.example>", $"RCPT TO:<{LocalRcpt}>", "DATA",
            $"Subject: s_client {token}", "", $"typed into s_client {token}", ".", "QUIT", "");
        // -crlf: lines end in CRLF; -nocommands: a line starting with R or Q is SMTP, not renegotiate/quit;
        // -quiet (implies -ign_eof): wait for the server to close after QUIT.
        var r = await ProcessRunner.RunAsync(OpenSsl,
            ["s_client", "-starttls", "smtp", "-connect", $"127.0.0.1:{d.SmtpPort}", "-crlf", "-quiet", "-nocommands"],
            TimeSpan.FromSeconds(60), null, dialogue, null);
        Assert.True(r.ExitCode == 0, $"openssl s_client failed:{Environment.NewLine}{r}{Environment.NewLine}{d.Diagnostics()}");
        Assert.Contains("250 2.0.0 Ok: queued as", r.Stdout);
        var m = Assert.Single(await d.WaitForMboxAsync(User, "typed into s_client " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Contains("with ESMTPS id", m.Header("Received"));
    }
}
