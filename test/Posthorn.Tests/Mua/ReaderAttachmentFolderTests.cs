using MimeKit;
using Posthorn.Mua;
using Posthorn.Mua.Tui;
using Xunit;

namespace Posthorn.Tests.Mua;

/// <summary>The full-screen reader's attachment keys (a after the editor, v in the pager) and change-folder
/// (c), and the line mode's <c>folder</c> and <c>-f +NAME</c> over Maildir++ folders.</summary>
public sealed class ReaderAttachmentFolderTests : IDisposable
{
    private readonly MuaFixture _f = new();

    public void Dispose() => _f.Dispose();

    private static readonly byte[] Payload = [0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0x0a, 0x41];

    private static readonly string WithAttachment =
        "From alice@example.test Tue Nov 25 13:17:08 2025\nFrom: alice@example.test\nSubject: report\nMIME-Version: 1.0\n"
        + "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\n"
        + "Content-Type: application/pdf; name=\"ignored.pdf\"\nContent-Disposition: attachment; filename=\"../../etc/report.pdf\"\n"
        + "Content-Transfer-Encoding: base64\n\n" + Convert.ToBase64String(Payload) + "\n--b--\n\n";

    private ReaderController Open(string path)
    {
        var ctx = _f.Context("");
        return new ReaderController(Mailbox.Open(path, ctx), ctx);
    }

    private static void Type(ReaderController c, string text, bool clear = false)
    {
        if (clear) for (int i = 0; i < 200; i++) c.Handle(ReaderKey.Named(ReaderKeyName.Backspace));
        foreach (char ch in text) c.Handle(ch);
        c.Handle(ReaderKey.Named(ReaderKeyName.Enter));
    }

    [Fact]
    public void A_after_the_editor_attaches_files_and_the_message_is_multipart_mixed_with_base64_and_the_file_name()
    {
        string file = Path.Combine(_f.Dir, "notes.pdf");
        File.WriteAllBytes(file, Payload);
        var c = Open(_f.Mbox);
        var edit = c.Handle('r');
        File.AppendAllText(edit.EditPath!, "Here it is.\n");
        c.EditorFinished(0);
        Assert.Equal("Send message? ([y]/n/a:attach file): ", c.PromptLine);

        Type(c, "a");
        Assert.Equal("Attach file: ", c.PromptLine);
        Type(c, Path.Combine(_f.Dir, "missing.pdf"));
        Assert.StartsWith($"{Path.Combine(_f.Dir, "missing.pdf")}: ", c.PromptLine);      // said, and asked again
        Assert.EndsWith("Send message? ([y]/n/a:attach file): ", c.PromptLine);
        Type(c, "a");
        c.Handle(ReaderKey.Named(ReaderKeyName.Escape));                                   // back to the question, draft kept
        Assert.Equal("Send message? ([y]/n/a:attach file): ", c.PromptLine);
        Type(c, "a");
        Type(c, file);
        Assert.Equal("Send message with 1 attachment (notes.pdf)? ([y]/n/a:attach file): ", c.PromptLine);
        Type(c, "y");
        Assert.Equal("Mail sent.", c.Message);

        var (_, rcpts, text) = Assert.Single(_f.Sent);
        Assert.Equal(["alice@example.test"], rcpts);
        var msg = MimeMessage.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)));
        var mixed = Assert.IsType<Multipart>(msg.Body);
        Assert.Equal("multipart/mixed", mixed.ContentType.MimeType);
        Assert.Contains("Here it is.", msg.TextBody);
        var part = Assert.IsType<MimePart>(Assert.Single(msg.Attachments));
        Assert.Equal(ContentEncoding.Base64, part.ContentTransferEncoding);
        Assert.Equal("notes.pdf", part.FileName);
        Assert.Equal("application/pdf", part.ContentType.MimeType);
        using var decoded = new MemoryStream();
        part.Content!.DecodeTo(decoded);
        Assert.Equal(Payload, decoded.ToArray());
    }

    [Fact]
    public void V_saves_the_decoded_attachment_under_its_bare_name_and_never_overwrites_without_a_yes()
    {
        File.WriteAllText(_f.Mbox, WithAttachment);
        var c = Open(_f.Mbox);
        c.Handle(ReaderKey.Named(ReaderKeyName.Enter));
        Assert.Contains(c.PagerLines, l => l.StartsWith("[-- Attachment #1: ../../etc/report.pdf (application/pdf, 8) --]", StringComparison.Ordinal));
        c.Handle('v');
        // RFC 2183 §2.3: only the last path element of the suggested name.
        Assert.Equal("Save to file: report.pdf", c.PromptLine);
        string target = Path.Combine(_f.Dir, "saved.pdf");
        Type(c, target, clear: true);
        Assert.Equal($"Saved to {target} (8).", c.Message);
        Assert.Equal(Payload, File.ReadAllBytes(target));

        File.WriteAllText(target, "mine");
        c.Handle('v');
        Type(c, target, clear: true);
        Assert.Equal("File exists, overwrite? (y/[n]): ", c.PromptLine);
        Type(c, "");
        Assert.Equal($"Not saved; {target} is left as it was.", c.Message);
        Assert.Equal("mine", File.ReadAllText(target));

        c.Handle('v');
        Type(c, target, clear: true);
        Type(c, "y");
        Assert.Equal(Payload, File.ReadAllBytes(target));

        // A directory: the file goes into it under the suggested name.
        c.Handle('v');
        Type(c, _f.Dir, clear: true);
        Assert.Equal(Payload, File.ReadAllBytes(Path.Combine(_f.Dir, "report.pdf")));
    }

    [Fact]
    public void V_on_a_message_without_attachments_says_so()
    {
        var c = Open(_f.Mbox);
        c.Handle('v');
        Assert.Null(c.PromptLine);
        Assert.Equal("This message has no attachments.", c.Message);
    }

    private string MaildirWithSent()
    {
        string root = Path.Combine(_f.Dir, "home", "bob", "Maildir");
        foreach (string dir in new[] { root, Path.Combine(root, ".Sent") })
            foreach (string sub in new[] { "new", "cur", "tmp" }) Directory.CreateDirectory(Path.Combine(dir, sub));
        File.WriteAllText(Path.Combine(root, "new", "1.M1P1.host"), "From: alice@example.test\nSubject: in the inbox\n\ninbox body\n");
        File.WriteAllText(Path.Combine(root, ".Sent", "cur", "2.M2P1.host:2,S"), "From: bob@example.test\nSubject: sent one\n\nsent body\n");
        return root;
    }

    [Fact]
    public void C_changes_to_a_Maildir_plus_plus_folder_and_back_and_a_wrong_name_is_reported()
    {
        string root = MaildirWithSent();
        var c = Open(root + "/");
        c.Handle('c');
        Assert.Equal("Open mailbox: ", c.PromptLine);
        Type(c, "+Sent");
        Assert.Equal(Path.Combine(root, ".Sent") + "/", c.Box.Path);
        Assert.Equal("sent one", Assert.Single(c.Box.Entries).Subject);
        Assert.Contains("sent one", string.Join("\n", c.Render(100, 20).Lines));

        c.Handle('c');
        Type(c, "+Nope");
        Assert.Contains("no such Maildir", c.Message);
        Assert.Equal(Path.Combine(root, ".Sent") + "/", c.Box.Path);

        c.Handle('d');
        c.Handle('c');
        Type(c, root);                                           // leaving commits the deletion, as q
        Assert.Empty(Directory.GetFiles(Path.Combine(root, ".Sent", "cur")));
        Assert.Equal("in the inbox", Assert.Single(c.Box.Entries).Subject);
    }

    [Fact]
    public void Line_mode_folder_and_dash_f_plus_open_Maildir_plus_plus_folders()
    {
        MaildirWithSent();
        var ctx = _f.Context("h\nfolder +Sent\nh\nx\n", homeMailbox: "Maildir/");
        Assert.Equal(0, MailProgram.Run([], ctx));
        string o = _f.Out.ToString();
        Assert.Contains("in the inbox", o);
        Assert.Contains($"\"{Path.Combine(_f.Dir, "home", "bob", "Maildir", ".Sent")}/\": 1 message", o);
        Assert.Contains("sent one", o);

        var again = _f.Context("h\nx\n", homeMailbox: "Maildir/");
        Assert.Equal(0, MailProgram.Run(["-f", "+Sent"], again));
        Assert.Contains("sent one", _f.Out.ToString()[o.Length..]);
        Assert.DoesNotContain("in the inbox", _f.Out.ToString()[o.Length..]);
    }
}
