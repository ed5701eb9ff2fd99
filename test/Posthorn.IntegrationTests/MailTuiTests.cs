using System.Text;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a user reads mail full screen with <c>posthorn mail --tui</c> (issue 10): the
/// real executable runs inside tmux at 120×40, keys go in with send-keys and the screen is read with
/// capture-pane, polled against a deadline. Each test has its own tmux server (-L) and kills it.</summary>
public sealed partial class MailTuiTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly TimeSpan ScreenTimeout = TimeSpan.FromSeconds(30);

    private static string Mbox(params string[] messages) => string.Concat(messages);

    private static string MboxMessage(string sender, string headers, string body) =>
        $"From {sender} Tue Nov 25 13:17:08 2025\n{headers}\n\n{body}\n";

    private static readonly string Base64Body =
        Convert.ToBase64String(Encoding.UTF8.GetBytes("Grüße aus dem Base64-Körper\nzweite Zeile\n"), Base64FormattingOptions.InsertLineBreaks);

    private static readonly string ThreeMessages = Mbox(
        MboxMessage("alice@example.test", "From: Alice <alice@example.test>\nSubject: plain one", "Hello Bob."),
        MboxMessage("carol@example.test", "From: carol@example.test\nSubject: base64 one\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64", Base64Body),
        MboxMessage("dave@example.test", "From: dave@example.test\nSubject: weird charset\nContent-Type: text/plain; charset=x-no-such-charset", "words in a strange charset"));

    [Fact]
    public async Task Index_shows_subjects_Enter_decodes_base64_and_d_then_dollar_removes_the_message_on_disk()
    {
        using var dir = new TempDir();
        string mbox = dir.Write("mbox", ThreeMessages);
        await using var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--tui", "-f", mbox]);
        if (tmux is null) return;

        await tmux.WaitForAsync("the index", s => s.Contains("plain one") && s.Contains("base64 one") && s.Contains("weird charset") && s.Contains("[Msgs:3 New:3]"));
        await tmux.KeysAsync("j", "Enter");
        await tmux.WaitForAsync("the decoded base64 body", s => s.Contains("Grüße aus dem Base64-Körper") && s.Contains("zweite Zeile"));
        Assert.DoesNotContain(Base64Body.Split('\n')[0], tmux.Last);

        await tmux.KeysAsync("q");
        await tmux.WaitForAsync("the index again", s => s.Contains("q:Quit"));
        await tmux.KeysAsync("d");
        await tmux.WaitForAsync("message 2 flagged D", s => s.Contains("   2 D ") && s.Contains("Del:1"));
        await tmux.KeysAsync("$");
        await tmux.WaitForAsync("the sync", s => s.Contains("1 message deleted.") && s.Contains("[Msgs:2"));
        string after = File.ReadAllText(mbox);
        Assert.Equal(2, after.Split('\n').Count(l => l.StartsWith("From ", StringComparison.Ordinal)));
        Assert.DoesNotContain("base64 one", after);
        Assert.Equal(ThreeMessages.Replace(ThreeMessages[ThreeMessages.IndexOf("From carol", StringComparison.Ordinal)..ThreeMessages.IndexOf("From dave", StringComparison.Ordinal)], ""), after);

        await tmux.KeysAsync("q");
        await tmux.WaitForAsync("the exit", s => s.Contains("[posthorn exited 0]"));
    }

    [Fact]
    public async Task A_malformed_message_and_an_unknown_charset_are_shown_and_x_leaves_the_mbox_byte_identical()
    {
        using var dir = new TempDir();
        string content = Mbox(
            MboxMessage("dave@example.test", "From: dave@example.test\nSubject: weird charset\nContent-Type: text/plain; charset=x-no-such-charset", "words in a strange charset"),
            MboxMessage("mallory@example.test",
                "From: <<<not an address\nSubject: malformed one\nthis header line has no colon\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"never-closed\"",
                "--never-closed\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n!!!not base64 at all@@@\n--never-closed\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"cut.bin\"\nContent-Transfer-Encoding: base64\n\nAAAA"),
            MboxMessage("eve@example.test", "Subject: after the bad one", "still readable"));
        string mbox = dir.Write("mbox", content);
        await using var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--tui", "-f", mbox]);
        if (tmux is null) return;

        await tmux.WaitForAsync("the index", s => s.Contains("weird charset") && s.Contains("malformed one") && s.Contains("after the bad one"));
        await tmux.KeysAsync("Enter");
        await tmux.WaitForAsync("the charset note", s => s.Contains("[-- unknown charset \"x-no-such-charset\"") && s.Contains("words in a strange charset"));
        await tmux.KeysAsync("j");
        await tmux.WaitForAsync("the malformed message", s => s.Contains("Subject: malformed one") && s.Contains("cut.bin"));
        await tmux.KeysAsync("j");
        await tmux.WaitForAsync("the message after it", s => s.Contains("still readable"));
        await tmux.KeysAsync("d", "x");
        await tmux.WaitForAsync("the exit", s => s.Contains("[posthorn exited 0]"));
        Assert.Equal(content, File.ReadAllText(mbox));
    }

    [Fact]
    public async Task A_missing_mailbox_is_reported_and_the_exit_status_is_1()
    {
        using var dir = new TempDir();
        string missing = Path.Combine(dir.Path, "no-such-mbox");
        await using var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--tui", "-f", missing]);
        if (tmux is null) return;
        await tmux.WaitForAsync("the error", s => s.Contains($"mail: {missing}: No such file or directory") && s.Contains("[posthorn exited 1]"));
        Assert.False(File.Exists(missing));
    }

    [Fact]
    public async Task Mail_delivered_by_Posthorn_is_read_answered_through_the_editor_and_deleted()
    {
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default with { Mydestination = TestConfig.MydestinationWithMydomain }, output);
        string token = Token.New();
        var sent = await d.RunToolWithInputAsync($"hello {token}\n", "mail", "-s", $"hi {token}", $"{User}@{TestConfig.Myhostname}");
        Assert.True(sent.ExitCode == 0, sent.ToString());
        await d.WaitForMboxAsync(User, "hello " + token);

        using var dir = new TempDir();
        // The "editor" adds a line to the draft, as a user would.
        string editor = dir.Write("editor.sh", $"#!/bin/sh\nprintf 'reply-{token}\\n' >> \"$1\"\n");
        File.SetUnixFileMode(editor, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string mbox = d.MboxOf(User);
        await using var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--tui", "-f", mbox],
            new() { ["MAIL_CONFIG"] = d.ConfigDir, ["EDITOR"] = editor });
        if (tmux is null) return;

        await tmux.WaitForAsync("the index", s => s.Contains($"hi {token}"));
        await tmux.KeysAsync("Enter");
        await tmux.WaitForAsync("the body", s => s.Contains($"hello {token}"));
        await tmux.KeysAsync("r");
        await tmux.WaitForAsync("the send question", s => s.Contains("Send message? ([y]/n/a:attach file):"));
        await tmux.KeysAsync("y", "Enter");
        await tmux.WaitForAsync("the confirmation", s => s.Contains("Mail sent."));
        var reply = (await d.WaitForMboxAsync(User, "reply-" + token)).Single(m => m.Body.Contains("reply-" + token, StringComparison.Ordinal));
        Assert.Equal($"Re: hi {token}", reply.Header("Subject"));

        await tmux.KeysAsync("q");
        await tmux.WaitForAsync("the r flag", s => s.Contains("   1  r "));
        await tmux.KeysAsync("d", "q");
        await tmux.WaitForAsync("the exit", s => s.Contains("[posthorn exited 0]"));
        // The original is gone; the reply, which arrived while the mailbox was open, stays.
        var left = Assert.Single(TestKit.Mbox.Parse(File.ReadAllText(mbox)));
        Assert.Equal($"Re: hi {token}", left.Header("Subject"));
    }

    [Fact]
    public async Task A_50_MB_attachment_is_listed_with_its_size_and_the_text_beside_it_shown()
    {
        using var dir = new TempDir();
        string mbox = Path.Combine(dir.Path, "mbox");
        using (var w = new StreamWriter(mbox, false, new UTF8Encoding(false)))
        {
            w.Write("From big@example.test Tue Nov 25 13:17:08 2025\nFrom: big@example.test\nSubject: big one\nMIME-Version: 1.0\n");
            w.Write("Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nsee the attachment\n--b\n");
            w.Write("Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"big.bin\"\nContent-Transfer-Encoding: base64\n\n");
            string line = Convert.ToBase64String(new byte[57]);   // 76 characters, 57 bytes
            for (int i = 0; i < 50 * 1024 * 1024 / 57; i++) w.Write(line + "\n");
            w.Write(Convert.ToBase64String(new byte[50 * 1024 * 1024 % 57]) + "\n--b--\n\n");
        }
        long size = new FileInfo(mbox).Length;
        await using var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--tui", "-f", mbox]);
        if (tmux is null) return;
        await tmux.WaitForAsync("the index", s => s.Contains("big one") && s.Contains("(  67M)"));
        await tmux.KeysAsync("Enter");
        await tmux.WaitForAsync("the attachment line", s => s.Contains("see the attachment") && s.Contains("[-- Attachment #1: big.bin (application/octet-stream, 50M) --]"));
        await tmux.KeysAsync("x");
        await tmux.WaitForAsync("the exit", s => s.Contains("[posthorn exited 0]"));
        Assert.Equal(size, new FileInfo(mbox).Length);
    }

    /// <summary>The IMAP mode against Posthorn's own imapd: Maildir delivery, a passwd-file user.</summary>
    [Fact]
    public async Task Imap_mode_lists_the_INBOX_sees_new_mail_through_IDLE_decodes_a_message_and_dollar_expunges_it()
    {
        const string password = "tui-imap-pass";
        var config = (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = "imapd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");
        await using var d = await DaemonProcess.StartAsync(config, output);
        string maildir = Path.Combine(d.ConfigDir, "maildir", User);
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{User}:{{PLAIN}}{password}::::{maildir}::\n");
        string token = Token.New();
        async Task DeliverAsync(string subject)
        {
            await using var smtp = await d.ConnectAsync();
            await smtp.CommandAsync("EHLO client.example");
            string id = await smtp.SendMailAsync("alice@sender.example", $"{User}@{TestConfig.Myhostname}",
                $"From: Alice <alice@sender.example>\nSubject: {subject}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
                + Convert.ToBase64String(Encoding.UTF8.GetBytes($"Körper {subject}\n")) + "\n");
            await smtp.CommandAsync("QUIT");
            await d.WaitForLogAsync($"{id}: removed");
        }
        await DeliverAsync($"keep {token}");
        await DeliverAsync($"drop {token}");
        int Files() => Directory.GetFiles(Path.Combine(maildir, "new")).Length + Directory.GetFiles(Path.Combine(maildir, "cur")).Length;
        Assert.Equal(2, Files());

        using var dir = new TempDir();
        await using var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--imap", $"imap://{User}@127.0.0.1:{d.SecondSmtpPort}"],
            new() { ["POSTHORN_IMAP_PASSWORD"] = password });
        if (tmux is null) return;
        await tmux.WaitForAsync("the IMAP index", s => s.Contains($"keep {token}") && s.Contains($"drop {token}") && s.Contains("alice@sender.example"));
        // IDLE: mail that arrives while the reader is open appears in the index by itself.
        await DeliverAsync($"late {token}");
        await tmux.WaitForAsync("the new mail seen through IDLE", s => s.Contains($"late {token}") && s.Contains("New mail in this mailbox.") && s.Contains("[Msgs:3"));
        // The cursor ("->") must be on the second message before Enter: a key that reaches the reader while IDLE
        // redraws the index must not make the test open another message.
        await tmux.KeysAsync("j");
        await tmux.WaitForAsync("the cursor on the second message",
            s => s.Split('\n').Any(l => l.StartsWith("->", StringComparison.Ordinal) && l.Contains($"drop {token}")));
        await tmux.KeysAsync("Enter");
        await tmux.WaitForAsync("the decoded body", s => s.Contains($"Körper drop {token}"));
        await tmux.KeysAsync("q", "d");   // in the index: in the pager d would go on to the next message
        await tmux.WaitForAsync("the D flag", s => s.Contains("   2 D ") && s.Contains("Del:1"));
        await tmux.KeysAsync("$");
        await tmux.WaitForAsync("the expunge", s => s.Contains("1 message deleted.") && s.Contains("[Msgs:2"));
        Assert.Equal(2, Files());
        await tmux.KeysAsync("q");
        await tmux.WaitForAsync("the exit", s => s.Contains("[posthorn exited 0]"));
    }

    [Fact]
    public async Task Imap_mode_with_a_wrong_password_reports_the_refused_login()
    {
        var config = (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = "imapd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");
        await using var d = await DaemonProcess.StartAsync(config, output);
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{User}:{{PLAIN}}right::::{Path.Combine(d.ConfigDir, "maildir", User)}::\n");
        using var dir = new TempDir();
        await using var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--imap", $"imap://{User}@127.0.0.1:{d.SecondSmtpPort}"],
            new() { ["POSTHORN_IMAP_PASSWORD"] = "wrong" });
        if (tmux is null) return;
        await tmux.WaitForAsync("the refusal", s => s.Contains("login failed") && s.Contains("[posthorn exited 1]"));
    }
}
