using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a Postfix with <c>mailbox_transport = lmtp:unix:private/lmtp-posthorn</c> hands local mail
/// to Posthorn's lmtpd (a <c>unix</c> row in master.cf), which puts it in the Maildir that imapd serves.
/// The LMTP client is python's smtplib.LMTP (MailKit 4 has no LMTP client) and a raw socket.</summary>
public sealed class LmtpTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private const string Password = "lmtp-pass";

    private static TestConfig Config() => (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = "imapd" })
        .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");

    private async Task<DaemonProcess> StartAsync()
    {
        var d = DaemonProcess.Create(Config(), output);
        try
        {
            File.AppendAllText(Path.Combine(d.ConfigDir, "master.cf"), "lmtp-posthorn unix - - n - - lmtpd\n");
            var gid = await ProcessRunner.RunAsync("id", ["-g"], TimeSpan.FromSeconds(10));
            string home = Path.Combine(d.ConfigDir, "maildir", User);
            File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"),
                $"{User}:{{PLAIN}}{Password}:{Unix.EffectiveUid}:{gid.Stdout.Trim()}::{home}::\n");
            await d.StartAsync();
            return d;
        }
        catch
        {
            await d.DisposeAsync();
            throw;
        }
    }

    private static string Socket(DaemonProcess d) => Path.Combine(d.ConfigDir, "queue", "private", "lmtp-posthorn");

    [Fact]
    public async Task Python_LMTP_client_delivers_over_the_unix_socket_and_IMAP_reads_it()
    {
        ExternalTool.Require("python3", "python3");
        await using var d = await StartAsync();
        string token = Token.New();
        string script = string.Join('\n',
            "import smtplib, sys",
            "c = smtplib.LMTP(sys.argv[1])",
            "c.ehlo('postfix.example')   # smtplib.LMTP sends LHLO",
            "refused = c.sendmail('sender@example.org', [sys.argv[2], 'ghost@example.test'],",
            "    'Subject: lmtp ' + sys.argv[3] + '\\r\\nMessage-ID: <' + sys.argv[3] + '@example.org>\\r\\n\\r\\nbody\\r\\n')",
            "print('refused', refused)",
            "c.quit()");
        var r = await ExternalTool.RunAsync("python3", "python3", ["-c", script, Socket(d), $"{User}@{TestConfig.Myhostname}", token]);
        Assert.True(r.ExitCode == 0, r.Output + d.Diagnostics());
        Assert.Contains("'ghost@example.test': (550, b\"5.1.1 <ghost@example.test> User doesn't exist: ghost@example.test\")", r.Stdout);

        using var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await imap.AuthenticateAsync(User, Password);
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var message = await imap.Inbox.GetMessageAsync(0);
        Assert.Equal($"lmtp {token}", message.Subject);
        Assert.Contains("with LMTP id", message.Headers["Received"], StringComparison.Ordinal);
        await imap.DisconnectAsync(quit: true);
        await d.WaitForLogAsync(l => l.Contains($"lmtp({User})<", StringComparison.Ordinal)
            && l.Contains($"msgid=<{token}@example.org>: saved mail to INBOX", StringComparison.Ordinal), "the lmtp saved line");
    }

    [Fact]
    public async Task Raw_LMTP_over_the_unix_socket_gets_one_reply_per_recipient()
    {
        await using var d = await StartAsync();
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream,
            System.Net.Sockets.ProtocolType.Unspecified);
        await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(Socket(d)));
        await using var stream = new System.Net.Sockets.NetworkStream(socket);
        using var reader = new StreamReader(stream);
        await using var writer = new StreamWriter(stream) { NewLine = "\r\n", AutoFlush = true };
        Assert.StartsWith("220 ", await reader.ReadLineAsync());
        await writer.WriteAsync($"LHLO client\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<{User}@{TestConfig.Myhostname}>\r\n"
            + $"RCPT TO:<{User}@other.example>\r\nDATA\r\n");
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null && line.StartsWith("250-", StringComparison.Ordinal)) { }
        Assert.StartsWith("250 ", line);                                    // end of LHLO
        Assert.Equal("250 2.1.0 Ok", await reader.ReadLineAsync());
        Assert.Equal("250 2.1.5 Ok", await reader.ReadLineAsync());
        Assert.Equal("250 2.1.5 Ok", await reader.ReadLineAsync());
        Assert.StartsWith("354 ", await reader.ReadLineAsync());
        await writer.WriteAsync("Subject: twice\r\n\r\nhi\r\n.\r\n");
        Assert.StartsWith($"250 2.0.0 <{User}@{TestConfig.Myhostname}>", await reader.ReadLineAsync());
        Assert.StartsWith($"250 2.0.0 <{User}@other.example>", await reader.ReadLineAsync());
        await writer.WriteAsync("QUIT\r\n");
        Assert.Equal("221 2.0.0 Bye", await reader.ReadLineAsync());
        Assert.Equal(2, Directory.GetFiles(Path.Combine(d.ConfigDir, "maildir", User, "new")).Length);
    }
}
