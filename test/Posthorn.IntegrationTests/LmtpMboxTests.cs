using System.Net.Sockets;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 8, "LMTP … delivering through the same code as the local/virtual agents"): a Postfix
/// with <c>mailbox_transport = lmtp:unix:private/lmtp-posthorn</c> hands mail to lmtpd, which puts it where local(8)
/// would and imapd reads it: the mbox <c>mail_spool_directory/USER</c> for spool users (read by mutt and over IMAP),
/// the Maildir for a user whose INBOX is a Maildir. The LMTP client is a raw socket, as nc(1) would be.</summary>
public sealed class LmtpMboxTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private const string Password = "lmtp-mbox-pass";

    /// <summary>The kit's mbox spool (D/mail), imapd on the second listener, lmtpd on a unix socket, a passwd-file
    /// entry with the test's own uid and gid and the home D/home-USER.</summary>
    private async Task<DaemonProcess> StartAsync(Action<string>? prepareHome = null)
    {
        var config = (TestConfig.Default with { SecondListenerCommand = "imapd" }).With("posthorn_passwd_file", "$config_directory/passwd");
        var d = DaemonProcess.Create(config, output);
        try
        {
            File.AppendAllText(Path.Combine(d.ConfigDir, "master.cf"), "lmtp-posthorn unix - - n - - lmtpd\n");
            var gid = await ProcessRunner.RunAsync("id", ["-g"], TimeSpan.FromSeconds(10));
            string home = Directory.CreateDirectory(Home(d)).FullName;
            prepareHome?.Invoke(home);
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

    private static string Home(DaemonProcess d) => Path.Combine(d.ConfigDir, "home-" + User);

    private static string Socket(DaemonProcess d) => Path.Combine(d.ConfigDir, "queue", "private", "lmtp-posthorn");

    /// <summary>One LMTP transaction for one recipient over the unix socket; returns the reply to the end of DATA.</summary>
    internal static async Task<string> LmtpAsync(string socketPath, string recipient, string message)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await using var stream = new NetworkStream(socket);
        using var reader = new StreamReader(stream);
        await using var writer = new StreamWriter(stream) { NewLine = "\r\n", AutoFlush = true };
        Assert.StartsWith("220 ", await reader.ReadLineAsync());
        await writer.WriteAsync($"LHLO postfix.example\r\nMAIL FROM:<sender@example.org>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n");
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null && line.StartsWith("250-", StringComparison.Ordinal)) { }
        Assert.StartsWith("250 ", line);
        Assert.Equal("250 2.1.0 Ok", await reader.ReadLineAsync());
        Assert.Equal("250 2.1.5 Ok", await reader.ReadLineAsync());
        Assert.StartsWith("354 ", await reader.ReadLineAsync());
        await writer.WriteAsync(message.ReplaceLineEndings("\r\n") + ".\r\n");
        string reply = await reader.ReadLineAsync() ?? "";
        await writer.WriteAsync("QUIT\r\n");
        Assert.Equal("221 2.0.0 Bye", await reader.ReadLineAsync());
        return reply;
    }

    internal static string Message(string token) =>
        $"From: Sender <sender@example.org>\nSubject: lmtp mbox {token}\nMessage-ID: <{token}@example.org>\n\nFrom the body {token}\n";

    private static async Task<ImapClient> LoginAsync(DaemonProcess d)
    {
        var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await imap.AuthenticateAsync(User, Password);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        return imap;
    }

    [Fact]
    public async Task LMTP_to_a_spool_user_appends_to_the_spool_mbox_that_mutt_and_IMAP_read()
    {
        await using var d = await StartAsync();
        string mbox = d.MboxOf(User);
        string t1 = Token.New(), t2 = Token.New();
        string address = $"{User}@{TestConfig.Myhostname}";
        Assert.StartsWith($"250 2.0.0 <{address}>", await LmtpAsync(Socket(d), address, Message(t1)));
        Assert.StartsWith($"250 2.0.0 <{address}>", await LmtpAsync(Socket(d), address, Message(t2)));

        // local(8)'s mbox form: From_ lines, Return-Path and Delivered-To, "From " quoted; no Maildir, no lock left.
        string text = File.ReadAllText(mbox);
        Assert.StartsWith("From sender@example.org ", text, StringComparison.Ordinal);
        Assert.Contains($"Delivered-To: {address}\n", text, StringComparison.Ordinal);
        Assert.Contains($"\n>From the body {t1}\n", text, StringComparison.Ordinal);
        Assert.Equal(2, File.ReadAllLines(mbox).Count(l => l.StartsWith("From ", StringComparison.Ordinal)));
        Assert.False(File.Exists(mbox + ".lock"));
        Assert.False(Directory.Exists(Path.Combine(Home(d), "Maildir")));
        await d.WaitForLogAsync(l => l.Contains($"lmtp({User})<", StringComparison.Ordinal)
            && l.Contains($"msgid=<{t2}@example.org>: saved mail to INBOX", StringComparison.Ordinal), "the lmtp saved line");
        await d.WaitForLogAsync(l => l.Contains("postfix/local[", StringComparison.Ordinal) && l.Contains($"to=<{address}>", StringComparison.Ordinal)
            && l.Contains("status=sent (delivered to mailbox)", StringComparison.Ordinal), "local(8)'s line for the mbox delivery");

        var view = await Mutt.ReadFirstMessageAsync(mbox, Directory.CreateDirectory(Path.Combine(d.ConfigDir, "mutt")).FullName);
        Assert.Contains(MuttView.StatusLine(2), view.Screen, StringComparison.Ordinal);
        Assert.Contains($"[lmtp mbox {t1}]", view.Screen, StringComparison.Ordinal);
        Assert.Contains($"From the body {t1}", view.Decoded, StringComparison.Ordinal);

        using var imap = await LoginAsync(d);
        Assert.Equal(2, imap.Inbox.Count);
        var first = await imap.Inbox.GetMessageAsync(0);
        Assert.Equal($"lmtp mbox {t1}", first.Subject);
        Assert.Contains("with LMTP id", first.Headers["Received"], StringComparison.Ordinal);
        Assert.Contains($"From the body {t1}", first.TextBody, StringComparison.Ordinal);
        Assert.Single(await imap.Inbox.SearchAsync(SearchQuery.SubjectContains(t2)));
        await imap.DisconnectAsync(quit: true);
    }

    [Fact]
    public async Task LMTP_to_a_user_whose_INBOX_is_a_Maildir_still_writes_the_Maildir_that_IMAP_reads()
    {
        // The user's Maildir has an INBOX (cur/): imapd serves it instead of the spool mbox, so lmtpd delivers there.
        await using var d = await StartAsync(home =>
        {
            foreach (var sub in new[] { "cur", "new", "tmp" }) Directory.CreateDirectory(Path.Combine(home, "Maildir", sub));
        });
        string token = Token.New();
        string address = $"{User}@{TestConfig.Myhostname}";
        Assert.StartsWith($"250 2.0.0 <{address}>", await LmtpAsync(Socket(d), address, Message(token)));
        string delivered = Assert.Single(Directory.GetFiles(Path.Combine(Home(d), "Maildir", "new")));
        Assert.Contains($"Subject: lmtp mbox {token}", File.ReadAllText(delivered), StringComparison.Ordinal);
        Assert.False(File.Exists(d.MboxOf(User)));
        await d.WaitForLogAsync(l => l.Contains("postfix/local[", StringComparison.Ordinal) && l.Contains($"to=<{address}>", StringComparison.Ordinal)
            && l.Contains("status=sent (delivered to maildir)", StringComparison.Ordinal), "local(8)'s line for the Maildir delivery");

        using var imap = await LoginAsync(d);
        Assert.Equal(1, imap.Inbox.Count);
        Assert.Equal($"lmtp mbox {token}", (await imap.Inbox.GetMessageAsync(0)).Subject);
        await imap.DisconnectAsync(quit: true);
    }
}
