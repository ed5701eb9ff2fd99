using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;
using Posthorn.IntegrationTests.TestKit;
using static Posthorn.IntegrationTests.MailTuiTests;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 10): <c>posthorn mail --imap</c> against Posthorn's own imapd: the server's
/// self-signed certificate is refused by default with a clear message and accepted with <c>--ca-file</c>
/// or <c>--insecure</c>; <c>c</c> changes to another folder that LIST returns.</summary>
public sealed class MailImapTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private const string Password = "mua-imap-pass";

    /// <summary>imapd on the second row (implicit TLS when <paramref name="tls"/>), Maildir delivery, a passwd-file user.
    /// The certificate is self-signed for 127.0.0.1 (the address the reader connects to), written as PEM before start.</summary>
    private async Task<DaemonProcess> StartAsync(bool tls)
    {
        var config = (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = tls ? "imapd -o imapd_tls_wrappermode=yes" : "imapd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");
        if (tls) config = config.With("smtpd_tls_cert_file", "$config_directory/cert.pem").With("smtpd_tls_key_file", "$config_directory/key.pem");
        return await DaemonProcess.StartAsync(config, output, d =>
        {
            File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{User}:{{PLAIN}}{Password}::::{d.MaildirOf(User)}::\n");
            if (tls)
            {
                var (cert, key) = SelfSigned("CN=posthorn imap test");
                File.WriteAllText(Path.Combine(d.ConfigDir, "cert.pem"), cert);
                File.WriteAllText(Path.Combine(d.ConfigDir, "key.pem"), key);
            }
            return Task.CompletedTask;
        });
    }

    private static (string CertPem, string KeyPem) SelfSigned(string subject)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return (cert.ExportCertificatePem(), rsa.ExportPkcs8PrivateKeyPem());
    }

    private static async Task DeliverAsync(DaemonProcess d, string subject)
    {
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string id = await smtp.SendMailAsync("alice@sender.example", $"{User}@{TestConfig.Myhostname}",
            $"From: Alice <alice@sender.example>\nSubject: {subject}\n\nbody of {subject}\n");
        await smtp.CommandAsync("QUIT");
        await d.WaitForLogAsync($"{id}: removed");
    }

    private static Dictionary<string, string?> Env => new() { ["POSTHORN_IMAP_PASSWORD"] = Password };

    [Fact]
    public async Task A_self_signed_certificate_is_refused_by_default_and_accepted_with_ca_file_or_insecure()
    {
        await using var d = await StartAsync(tls: true);
        string token = Token.New();
        await DeliverAsync(d, $"tls {token}");
        string url = $"imaps://{User}@127.0.0.1:{d.SecondSmtpPort}";

        // Default: the system trust store; the password comes from standard input.
        var refused = await d.RunToolWithInputAsync(Password + "\n", "mail", "--imap", url);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"mail: {url}/INBOX: certificate verification failed: the certificate (CN=posthorn imap test) is not trusted", refused.Stderr);
        Assert.Contains("give --ca-file FILE with its certificate (or its CA's), or --insecure to skip the check", refused.Stderr);

        // --ca-file with some other certificate: still refused, and it says why.
        string otherCa = Path.Combine(d.ConfigDir, "other.pem");
        File.WriteAllText(otherCa, SelfSigned("CN=someone else").CertPem);
        var wrongCa = await d.RunToolWithInputAsync(Password + "\n", "mail", "--imap", url, "--ca-file", otherCa);
        Assert.Equal(1, wrongCa.ExitCode);
        Assert.Contains("is not signed by a certificate in the --ca-file", wrongCa.Stderr);

        var noFile = await d.RunToolWithInputAsync(Password + "\n", "mail", "--imap", url, "--ca-file", Path.Combine(d.ConfigDir, "none.pem"));
        Assert.Equal(1, noFile.ExitCode);
        Assert.Contains("none.pem", noFile.Stderr);

        using var dir = new TempDir();
        foreach (var trust in new[] { new[] { "--ca-file", Path.Combine(d.ConfigDir, "cert.pem") }, new[] { "--insecure" } })
        {
            await using var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--imap", url, .. trust], Env);
            if (tmux is null) return;
            await tmux.WaitForAsync($"the index with {trust[0]}", s => s.Contains($"tls {token}") && s.Contains($"imaps://{User}@127.0.0.1"));
            await tmux.KeysAsync("x");
            await tmux.WaitForAsync("the exit", s => s.Contains("[posthorn exited 0]"));
        }
    }

    [Fact]
    public async Task C_changes_to_any_folder_LIST_returns_and_a_wrong_name_lists_the_folders()
    {
        await using var d = await StartAsync(tls: false);
        string token = Token.New();
        await DeliverAsync(d, $"inbox {token}");
        using (var imap = new ImapClient { Timeout = 30_000 })
        {
            await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
            await imap.AuthenticateAsync(User, Password);
            var archive = await imap.GetFolder(imap.PersonalNamespaces[0]).CreateAsync("Archive", isMessageFolder: true);
            var old = new MimeMessage { Subject = $"archived {token}" };
            old.From.Add(MailboxAddress.Parse("carol@sender.example"));
            old.Body = new TextPart("plain") { Text = $"kept in the archive {token}" };
            await archive!.AppendAsync(old, MessageFlags.Seen);
            await imap.DisconnectAsync(quit: true);
        }

        using var dir = new TempDir();
        await using var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--imap", $"imap://{User}@127.0.0.1:{d.SecondSmtpPort}"], Env);
        if (tmux is null) return;
        await tmux.WaitForAsync("the INBOX", s => s.Contains($"inbox {token}") && s.Contains("/INBOX [Msgs:1"));
        await tmux.KeysAsync("c");
        await tmux.WaitForAsync("the folder question", s => s.Contains("Open mailbox:"));
        await tmux.KeysAsync("Nope", "Enter");
        await tmux.WaitForAsync("the folders there are", s => s.Contains("Nope: no such folder (there are: INBOX, Archive"));
        await tmux.KeysAsync("c", "Archive", "Enter");
        await tmux.WaitForAsync("the Archive folder", s => s.Contains($"archived {token}") && s.Contains("/Archive [Msgs:1") && !s.Contains($"inbox {token}"));
        await tmux.KeysAsync("Enter");
        await tmux.WaitForAsync("the archived message", s => s.Contains($"kept in the archive {token}"));
        await tmux.KeysAsync("q", "c", "INBOX", "Enter");
        await tmux.WaitForAsync("the INBOX again", s => s.Contains($"inbox {token}") && s.Contains("/INBOX [Msgs:1"));
        // IDLE follows the open folder: new mail in INBOX shows up.
        await DeliverAsync(d, $"late {token}");
        await tmux.WaitForAsync("the new mail", s => s.Contains($"late {token}") && s.Contains("[Msgs:2"));
        await tmux.KeysAsync("x");
        await tmux.WaitForAsync("the exit", s => s.Contains("[posthorn exited 0]"));
    }
}
