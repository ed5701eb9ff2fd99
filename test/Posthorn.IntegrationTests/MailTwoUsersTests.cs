using Posthorn.IntegrationTests.TestKit;
using static Posthorn.IntegrationTests.MailTuiTests;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 10, the proof): two local users write to each other with <c>posthorn mail</c>.
/// The peer sends; the reader finds the mail that Posthorn delivered, opens it, answers with <c>r</c>,
/// deletes it and quits; the reader's mailbox on disk and the answer in the peer's mailbox are checked.
/// Once in line mode (stdin/stdout), once full screen (tmux).</summary>
/// <remarks>
/// The reader is the user running the tests. The peer: as root the account <c>nobody</c>, whose mbox
/// local(8) writes as nobody; the peer's send uses mailx <c>-r</c> for its address (the queue is 0700 and
/// there is no setgid postdrop, so only root or the mail owner can submit). As an ordinary user no second
/// account can receive mail, so the peer is the alias <c>peer: D/mail/peer</c> (local(8) file delivery, in
/// mbox form); the test says so in its output. <c>-u USER</c> is checked here too: as root it opens the
/// peer's mailbox; otherwise the refusal is checked and the opening is reported as not checked.
/// </remarks>
public sealed class MailTwoUsersTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;

    /// <summary>The second user: its name, its address, and whether it is a real account.</summary>
    private sealed record Peer(string Name, bool IsAccount)
    {
        public string Address => $"{Name}@{TestConfig.Myhostname}";
    }

    private async Task<(DaemonProcess Daemon, Peer Peer)> StartAsync()
    {
        var peer = Unix.IsRoot ? new Peer("nobody", true) : new Peer("peer", false);
        if (!peer.IsAccount)
            output.WriteLine($"not root: only {User} is an account that can receive mail; the peer is the alias \"peer\" delivering to the file D/mail/peer");
        else if (await Unix.UidOfAsync(peer.Name) is null)
            throw new Xunit.Sdk.XunitException($"this test needs the account {peer.Name}");
        var d = await DaemonProcess.StartAsync(TestConfig.Default, output, d =>
        {
            if (!peer.IsAccount) File.AppendAllText(d.AliasesPath, $"peer: {d.MboxOf("peer")}\n");
            return Task.CompletedTask;
        });
        return (d, peer);
    }

    /// <summary>Whose mailbox <c>-u</c> asks for: as root the peer's; otherwise root's, which is never ours.</summary>
    private static string OtherUser(Peer peer) => Unix.IsRoot ? peer.Name : "root";

    /// <summary>The peer sends "hi TOKEN" to the reader; returns the message as delivered.</summary>
    private static async Task<StoredMessage> PeerSendsAsync(DaemonProcess d, Peer peer, string token)
    {
        var sent = await d.RunToolWithInputAsync($"hello {token}\n", "mail", "-r", peer.Address, "-s", $"hi {token}", $"{User}@{TestConfig.Myhostname}");
        Assert.True(sent.ExitCode == 0, sent.ToString());
        return Assert.Single(await d.WaitForMboxAsync(User, "hello " + token), m => m.Body.Contains(token, StringComparison.Ordinal));
    }

    /// <summary>The answer in the peer's mailbox: addressed to the peer, threaded under the original.</summary>
    private static async Task<StoredMessage> AnswerInPeerMailboxAsync(DaemonProcess d, Peer peer, StoredMessage original, string answerText)
    {
        var answer = Assert.Single(await d.WaitForMboxAsync(peer.Name, answerText), m => m.Body.Contains(answerText, StringComparison.Ordinal));
        Assert.Equal($"Re: {original.Header("Subject")}", answer.Header("Subject"));
        Assert.Equal(peer.Address, answer.Header("To"));
        Assert.Equal(original.Header("Message-ID"), answer.Header("In-Reply-To"));
        Assert.StartsWith(User + "@", answer.Header("From"));
        return answer;
    }

    [Fact]
    public async Task Line_mode_reads_the_delivered_mail_answers_the_peer_with_r_deletes_and_quits()
    {
        var (d, peer) = await StartAsync();
        await using var _ = d;
        string token = Token.New();
        var original = await PeerSendsAsync(d, peer, token);
        Assert.Equal(peer.Address, original.Header("From"));

        // No -f: the mailbox comes from main.cf (mail_spool_directory) for the invoking user.
        var session = await d.RunToolWithInputAsync($"h\np 1\nr\nthanks {token}\n.\nd 1\nq\n", "mail");
        Assert.True(session.ExitCode == 0, session.ToString());
        output.WriteLine(session.Stdout);
        Assert.Contains($">N  1 {peer.Address[..20]}", session.Stdout);   // mailx cuts the sender at 20
        Assert.Contains($"hello {token}", session.Stdout);
        Assert.Contains($"To: {peer.Address}", session.Stdout);
        Assert.Contains($"Subject: Re: hi {token}", session.Stdout);
        Assert.Contains("EOT", session.Stdout);

        var answer = await AnswerInPeerMailboxAsync(d, peer, original, $"thanks {token}");
        Assert.Equal([$"thanks {token}"], answer.BodyLines);
        // The reader's mailbox: the one message was deleted on quit; the file stays, empty.
        Assert.Equal("", File.ReadAllText(d.MboxOf(User)));
        // Nothing went to the reader by mistake.
        Assert.DoesNotContain(token, File.ReadAllText(d.MboxOf(User)));

        // -u: root opens another user's mailbox; anyone else is refused.
        var other = await d.RunToolWithInputAsync("h\nx\n", "mail", "-u", OtherUser(peer));
        if (Unix.IsRoot)
        {
            Assert.True(other.ExitCode == 0, other.ToString());
            Assert.Contains($"\"{d.MboxOf("nobody")}\": 1 message 1 new", other.Stdout);
            Assert.Contains($"Re: hi {token}", other.Stdout);
        }
        else
        {
            Assert.Equal(1, other.ExitCode);
            Assert.Contains("mail: -u: permission denied (root only)", other.Stderr);
            output.WriteLine("not root: -u opening another user's mailbox was not checked, only its refusal");
        }
    }

    [Fact]
    public async Task Full_screen_reads_the_delivered_mail_answers_the_peer_with_r_deletes_and_quits()
    {
        var (d, peer) = await StartAsync();
        await using var _ = d;
        string token = Token.New();
        var original = await PeerSendsAsync(d, peer, token);

        using var dir = new TempDir();
        string editor = dir.Write("editor.sh", $"#!/bin/sh\nprintf 'thanks-{token}\\n' >> \"$1\"\n");
        File.SetUnixFileMode(editor, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var env = new Dictionary<string, string?> { ["MAIL_CONFIG"] = d.ConfigDir, ["EDITOR"] = editor };
        await using (var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--tui"], env))
        {
            if (tmux is null) return;
            await tmux.WaitForAsync("the index", s => s.Contains($"hi {token}") && s.Contains(peer.Address[..20]) && s.Contains("[Msgs:1 New:1]"));
            await tmux.KeysAsync("Enter");
            await tmux.WaitForAsync("the message", s => s.Contains($"hello {token}") && s.Contains($"From: {peer.Address}"));
            await tmux.KeysAsync("r");
            await tmux.WaitForAsync("the send question", s => s.Contains("Send message?"));
            await tmux.KeysAsync("y", "Enter");
            await tmux.WaitForAsync("the confirmation", s => s.Contains("Mail sent."));
            await AnswerInPeerMailboxAsync(d, peer, original, $"thanks-{token}");
            await tmux.KeysAsync("q");
            await tmux.WaitForAsync("the r flag", s => s.Contains("   1 Nr ") || s.Contains("   1  r "));
            await tmux.KeysAsync("d", "q");
            await tmux.WaitForAsync("the exit", s => s.Contains("[posthorn exited 0]"));
        }
        Assert.Equal("", File.ReadAllText(d.MboxOf(User)));

        // -u in the full-screen reader.
        await using var other = await TmuxScreen.StartAsync(output, dir, ["mail", "--tui", "-u", OtherUser(peer)], env);
        if (other is null) return;
        if (Unix.IsRoot)
        {
            await other.WaitForAsync("nobody's index", s => s.Contains($"Re: hi {token}") && s.Contains(d.MboxOf("nobody")));
            await other.KeysAsync("x");
            await other.WaitForAsync("the exit", s => s.Contains("[posthorn exited 0]"));
        }
        else
        {
            await other.WaitForAsync("the refusal", s => s.Contains("mail: -u: permission denied (root only)") && s.Contains("[posthorn exited 1]"));
            output.WriteLine("not root: --tui -u opening another user's mailbox was not checked, only its refusal");
        }
    }

    /// <summary>Issue 10, attachments: <c>-a</c> on the one-line send, <c>v</c> saving it from the pager,
    /// and <c>a</c> attaching a file to the answer after the editor.</summary>
    [Fact]
    public async Task Attachments_go_both_ways_dash_a_on_the_send_v_saves_it_and_a_attaches_to_the_answer()
    {
        var (d, peer) = await StartAsync();
        await using var _ = d;
        string token = Token.New();
        using var dir = new TempDir();
        byte[] report = [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 7))];   // binary: 0x00, 0xff…
        string reportPath = Path.Combine(dir.Path, "report.pdf");
        File.WriteAllBytes(reportPath, report);
        var sent = await d.RunToolWithInputAsync($"see attached {token}\n", "mail", "-r", peer.Address, "-s", $"report {token}", "-a", reportPath, $"{User}@{TestConfig.Myhostname}");
        Assert.True(sent.ExitCode == 0, sent.ToString());
        var delivered = Assert.Single(await d.WaitForMboxAsync(User, "see attached " + token));
        Assert.StartsWith("multipart/mixed;", delivered.Header("Content-Type"));
        var mime = LoadSingle(d.MboxOf(User));
        var part = Assert.IsType<MimeKit.MimePart>(Assert.Single(mime.Attachments));
        Assert.Equal(MimeKit.ContentEncoding.Base64, part.ContentTransferEncoding);
        Assert.Equal("report.pdf", part.FileName);
        Assert.Equal(report, Decode(part));

        string editor = dir.Write("editor.sh", $"#!/bin/sh\nprintf 'answer-{token}\\n' >> \"$1\"\n");
        File.SetUnixFileMode(editor, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string notes = dir.Write("notes.txt", $"notes {token}\n");
        string saved = Path.Combine(dir.Path, "saved.pdf");
        await using var tmux = await TmuxScreen.StartAsync(output, dir, ["mail", "--tui"], new() { ["MAIL_CONFIG"] = d.ConfigDir, ["EDITOR"] = editor });
        if (tmux is null) return;
        await tmux.WaitForAsync("the index", s => s.Contains($"report {token}"));
        await tmux.KeysAsync("Enter");
        await tmux.WaitForAsync("the attachment line", s => s.Contains($"see attached {token}") && s.Contains("[-- Attachment #1: report.pdf (application/pdf, 300) --]"));
        await tmux.KeysAsync("v");
        await tmux.WaitForAsync("the file question", s => s.Contains("Save to file: report.pdf"));
        await tmux.KeysAsync([.. Enumerable.Repeat("BSpace", "report.pdf".Length), saved, "Enter"]);
        await tmux.WaitForAsync("the save", s => s.Contains($"Saved to {saved} (300)."));
        Assert.Equal(report, File.ReadAllBytes(saved));

        await tmux.KeysAsync("r");
        await tmux.WaitForAsync("the send question", s => s.Contains("Send message? ([y]/n/a:attach file):"));
        await tmux.KeysAsync("a", "Enter");
        await tmux.WaitForAsync("the attach question", s => s.Contains("Attach file:"));
        await tmux.KeysAsync(notes, "Enter");
        await tmux.WaitForAsync("the attachment in the question", s => s.Contains("Send message with 1 attachment (notes.txt)?"));
        await tmux.KeysAsync("y", "Enter");
        await tmux.WaitForAsync("the confirmation", s => s.Contains("Mail sent."));
        await AnswerInPeerMailboxAsync(d, peer, delivered, $"answer-{token}");
        var answer = LoadSingle(d.MboxOf(peer.Name));
        Assert.Equal("multipart/mixed", answer.Body!.ContentType.MimeType);
        var attached = Assert.IsAssignableFrom<MimeKit.MimePart>(Assert.Single(answer.Attachments));
        Assert.Equal("notes.txt", attached.FileName);
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes($"notes {token}\n"), Decode(attached));
        await tmux.KeysAsync("x");
        await tmux.WaitForAsync("the exit", s => s.Contains("[posthorn exited 0]"));
    }

    private static MimeKit.MimeMessage LoadSingle(string mbox)
    {
        using var file = File.OpenRead(mbox);
        var parser = new MimeKit.MimeParser(file, MimeKit.MimeFormat.Mbox);
        var first = parser.ParseMessage();
        Assert.True(parser.IsEndOfStream, $"{mbox} holds more than one message");
        return first;
    }

    private static byte[] Decode(MimeKit.MimePart part)
    {
        using var decoded = new MemoryStream();
        part.Content!.DecodeTo(decoded);
        return decoded.ToArray();
    }
}
