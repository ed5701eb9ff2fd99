using System.Diagnostics;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: mail that arrived over SMTP is read over IMAP and POP3 (the Dovecot role),
/// from the Maildir local delivery wrote, by a user of the shared passwd-file.</summary>
public sealed partial class MailboxAccessTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private const string Password = "s3cret-pass";

    /// <summary>Delivery into D/maildir/USER/ (mail_spool_directory ending in "/"), and a passwd-file
    /// whose home for USER is that Maildir, so imapd_mailbox is empty.</summary>
    private static TestConfig WithMailboxAccess(string command) => (TestConfig.Default with
    {
        SpoolMaildir = true,
        SecondListenerCommand = command,
    }).With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");

    private static void WritePasswd(DaemonProcess d) =>
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{User}:{{PLAIN}}{Password}::::{Maildir(d)}::\n");

    private static async Task<string> SendAsync(DaemonProcess d, string token)
    {
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string id = await smtp.SendMailAsync("alice@sender.example", $"{User}@{TestConfig.Myhostname}",
            $"From: Alice <alice@sender.example>\nSubject: imap {token}\n\nbody {token}\n");
        await smtp.CommandAsync("QUIT");
        await d.WaitForLogAsync($"{id}: removed");
        return id;
    }

    [Fact]
    public async Task Mail_delivered_by_SMTP_is_read_with_MailKit_over_IMAP_and_flags_reach_the_Maildir_name()
    {
        await using var d = await DaemonProcess.StartAsync(WithMailboxAccess("imapd"), output);
        WritePasswd(d);
        string token = Token.New();
        await SendAsync(d, token);

        using var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await imap.AuthenticateAsync(User, Password);
        var inbox = imap.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(1, inbox.Count);
        var summary = (await inbox.FetchAsync(0, -1, MessageSummaryItems.Envelope | MessageSummaryItems.UniqueId)).Single();
        Assert.NotNull(summary.Envelope);
        Assert.Equal($"imap {token}", summary.Envelope.Subject);
        Assert.Equal("alice@sender.example", summary.Envelope.From.Mailboxes.Single().Address);
        var message = await inbox.GetMessageAsync(summary.UniqueId);
        Assert.Contains($"body {token}", message.TextBody, StringComparison.Ordinal);

        // MailKit fetches with BODY.PEEK[], which leaves \Seen alone; set both flags explicitly.
        await inbox.AddFlagsAsync(summary.UniqueId, MessageFlags.Flagged | MessageFlags.Seen, silent: true);
        await imap.DisconnectAsync(quit: true);

        // The flag is in the file name, where mutt reads it (Maildir ":2,FS").
        string cur = Path.Combine(d.ConfigDir, "maildir", User, "cur");
        var file = Assert.Single(Directory.GetFiles(cur));
        Assert.EndsWith(":2,FS", file, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_password_is_refused_over_IMAP()
    {
        await using var d = await DaemonProcess.StartAsync(WithMailboxAccess("imapd"), output);
        WritePasswd(d);
        using var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await Assert.ThrowsAsync<AuthenticationException>(() => imap.AuthenticateAsync(User, "wrong"));
    }

    [Fact]
    public async Task Mail_is_read_and_deleted_over_POP3()
    {
        await using var d = await DaemonProcess.StartAsync(WithMailboxAccess("pop3d"), output);
        WritePasswd(d);
        string token = Token.New();
        await SendAsync(d, token);

        using (var pop = new Pop3Client { Timeout = 30_000 })
        {
            await pop.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
            await pop.AuthenticateAsync(User, Password);
            Assert.Equal(1, pop.Count);
            var message = await pop.GetMessageAsync(0);
            Assert.Equal($"imap {token}", message.Subject);
            await pop.DeleteMessageAsync(0);
            await pop.DisconnectAsync(quit: true);
        }
        string maildir = Path.Combine(d.ConfigDir, "maildir", User);
        await Wait.UntilAsync(() => Directory.GetFiles(Path.Combine(maildir, "cur")).Length + Directory.GetFiles(Path.Combine(maildir, "new")).Length == 0,
            TimeSpan.FromSeconds(10), "the message file removed after QUIT");
    }

    [Fact]
    public async Task Curl_fetches_the_message_over_IMAP()
    {
        ExternalTool.Require("curl", "curl");
        await using var d = await DaemonProcess.StartAsync(WithMailboxAccess("imapd"), output);
        WritePasswd(d);
        string token = Token.New();
        await SendAsync(d, token);
        var psi = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-s", "--max-time", "30", "--url", $"imap://127.0.0.1:{d.SecondSmtpPort}/INBOX;MAILINDEX=1", "-u", $"{User}:{Password}" })
            psi.ArgumentList.Add(a);
        using var curl = Process.Start(psi)!;
        string body = await curl.StandardOutput.ReadToEndAsync();
        await curl.WaitForExitAsync();
        Assert.Equal(0, curl.ExitCode);
        Assert.Contains($"Subject: imap {token}", body, StringComparison.Ordinal);
    }
}
