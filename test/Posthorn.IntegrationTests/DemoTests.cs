using System.Diagnostics;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the README's first command. `posthorn demo DIR` creates a demo configuration, prints how to
/// send and read mail, and serves it: nc-style SMTP on one port, and the submission port with STARTTLS and AUTH
/// (self-signed certificate and a passwd-file made by Posthorn itself, no openssl), as swaks uses it.</summary>
public sealed class DemoTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Demo_serves_nc_on_the_smtp_port_and_swaks_with_tls_and_auth_on_submission_then_stops_on_sigterm()
    {
        var dir = Directory.CreateTempSubdirectory("posthorn-demo-");
        string user = Environment.UserName;
        int smtp = FreePort.Next(), submission = FreePort.Next();
        var exe = PosthornExecutable.Locate();
        var env = new Dictionary<string, string?>(PosthornExecutable.RuntimeEnvironment()) { ["USER"] = user, ["MAIL_CONFIG"] = null };
        using var process = Process.Start(ProcessRunner.NewStartInfo(exe.FileName,
            exe.Arguments(["demo", dir.FullName, "-p", $"{smtp}", "-s", $"{submission}"]), env, null))!;
        var stdout = new OutputPump(process.StandardOutput);
        var stderr = new OutputPump(process.StandardError);
        string Diagnostics() => $"--- demo stdout ---\n{stdout.Text}\n--- demo stderr ---\n{stderr.Text}\n--- maillog ---\n" +
            (File.Exists(Path.Combine(dir.FullName, "maillog")) ? File.ReadAllText(Path.Combine(dir.FullName, "maillog")) : "");
        try
        {
            await Wait.UntilAsync(() => stdout.Text.Contains("Ctrl-C stops the daemon", StringComparison.Ordinal) && !FreePort.CanBind(submission),
                TimeSpan.FromSeconds(60), "the demo to listen", Diagnostics);
            Assert.Contains($"nc 127.0.0.1 {smtp}", stdout.Text);
            Assert.Contains($"swaks --server 127.0.0.1:{submission} --tls --auth-user {user} --auth-password demo", stdout.Text);

            // nc-style, on the SMTP port, as the printed printf | nc line does.
            string token = Token.New();
            await using (var nc = await RawSmtp.ConnectAsync(smtp, diagnostics: Diagnostics))
            {
                nc.Expect(await nc.CommandAsync("HELO me"), 250);
                await nc.SendMailAsync("you@example.com", $"{user}@localhost", Token.Message(token, "hello " + token));
            }

            // The submission port wants TLS before anything else (smtpd_tls_security_level=encrypt).
            await using (var plain = await RawSmtp.ConnectAsync(submission, diagnostics: Diagnostics))
            {
                var ehlo = await plain.CommandAsync("EHLO me");
                Assert.Contains("STARTTLS", ehlo.Texts);
                Assert.DoesNotContain(ehlo.Texts, t => t.StartsWith("AUTH", StringComparison.Ordinal));
                plain.Expect(await plain.CommandAsync("MAIL FROM:<you@example.com>"), "530 5.7.0 Must issue a STARTTLS command first");
            }

            // The printed swaks line, with TLS and the demo login.
            string swaksToken = Token.New();
            var swaks = await ExternalTool.RunAsync("swaks", "swaks",
                ["--server", $"127.0.0.1:{submission}", "--tls", "--auth-user", user, "--auth-password", "demo",
                 "--to", $"{user}@localhost", "--from", "you@example.com", "--header", $"Subject: {swaksToken}"]);
            Assert.True(swaks.ExitCode == 0, swaks + Diagnostics());
            Assert.Contains("235 2.7.0 Authentication successful", swaks.Output);

            string mbox = Path.Combine(dir.FullName, "mail", user);
            await Wait.UntilAsync(() => File.Exists(mbox) && File.ReadAllText(mbox) is var text
                    && text.Contains(token, StringComparison.Ordinal) && text.Contains(swaksToken, StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), $"both messages in {mbox}", Diagnostics);
            Assert.Contains("with ESMTPSA id", File.ReadAllText(mbox));
            // The submission row's -o syslog_name names its smtpd lines, as Postfix does.
            Assert.Contains(" postfix/submission/smtpd[", File.ReadAllText(Path.Combine(dir.FullName, "maillog")));

            // SIGTERM rather than Ctrl-C's SIGINT: a test run started in the background (as `.ci/run &`) inherits
            // SIGINT ignored, and the daemon keeps it so.
            Unix.Signal(process.Id, Unix.SIGTERM);
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(exit.Token);
            Assert.Contains("terminating on signal 15", File.ReadAllText(Path.Combine(dir.FullName, "maillog")));
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            output.WriteLine(Diagnostics());
            dir.Delete(recursive: true);
        }
    }
}
