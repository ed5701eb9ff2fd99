using System.Text;
using MimeKit;
using Posthorn.Daemon.Tools;
using Posthorn.Mail.Queue;
using Posthorn.Tests.Queue;
using Xunit;

namespace Posthorn.Tests.Mua;

/// <summary>posthorn mail ADDRESS… &lt; body: through the registered command, into maildrop.</summary>
public sealed class MailSendTests : IDisposable
{
    private readonly TempQueue _q = new();
    private readonly DirectoryInfo _config = Directory.CreateTempSubdirectory("posthorn-mua-cfg-");

    public MailSendTests() =>
        File.WriteAllText(Path.Combine(_config.FullName, "main.cf"), $"queue_directory = {_q.Root}\n");

    public void Dispose()
    {
        _q.Dispose();
        _config.Delete(recursive: true);
    }

    private int Mail(string body, params string[] args)
    {
        var ctx = new ToolContext
        {
            Out = _q.Out,
            Err = _q.Err,
            In = new StringReader(body),
            OpenStdin = () => new MemoryStream(Encoding.UTF8.GetBytes(body)),
            GetEnv = name => name == "MAIL_CONFIG" ? _config.FullName : null,
            Clock = _q.Clock,
        };
        return CommandTable.RunAsync("posthorn", ["mail", .. args], ctx).GetAwaiter().GetResult();
    }

    private QueuedMessage[] Maildrop() =>
        _q.Dir.List(QueueName.Maildrop).Select(id => QueueFile.Read(_q.Dir.PathOf(QueueName.Maildrop, id))).ToArray();

    private static MimeMessage Parse(QueuedMessage m)
    {
        using var s = m.OpenContent();
        return MimeMessage.Load(s);
    }

    [Fact]
    public void Subject_cc_bcc_and_attachment_become_a_MIME_message_and_an_envelope()
    {
        string attachment = Path.Combine(_config.FullName, "report.pdf");
        File.WriteAllBytes(attachment, [0x25, 0x50, 0x44, 0x46, 0x00, 0xff]);
        int rc = Mail("Hello Bob,\nsee the report.\n", "-s", "Grüße zum Bericht", "-c", "carol@example.test", "-b", "eve@example.test",
            "-a", attachment, "-r", "alice@example.test", "bob@example.test");
        Assert.True(rc == 0, _q.Err.ToString());

        var q = Assert.Single(Maildrop());
        Assert.Equal("alice@example.test", q.Envelope.Sender.ToString());
        Assert.Equal(["bob@example.test", "carol@example.test", "eve@example.test"], q.Envelope.Recipients.Select(r => r.Address));

        var m = Parse(q);
        Assert.Equal("Grüße zum Bericht", m.Subject);
        // RFC 2047: the non-ASCII subject travels as UTF-8 encoded-words.
        Assert.StartsWith("Subject: =?utf-8?", RawSubject(q), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("alice@example.test", m.From.Mailboxes.Single().Address);
        Assert.Equal("bob@example.test", m.To.Mailboxes.Single().Address);
        Assert.Equal("carol@example.test", m.Cc.Mailboxes.Single().Address);
        Assert.Empty(m.Bcc);
        Assert.DoesNotContain("eve@", RawContent(q));
        Assert.Equal("Hello Bob,\nsee the report.\n", m.TextBody!.Replace("\r\n", "\n"));
        var part = Assert.IsType<MimePart>(Assert.Single(m.Attachments));
        Assert.Equal("application/pdf", part.ContentType.MimeType);
        Assert.Equal("report.pdf", part.FileName);
        using var decoded = new MemoryStream();
        part.Content!.DecodeTo(decoded);
        Assert.Equal([0x25, 0x50, 0x44, 0x46, 0x00, 0xff], decoded.ToArray());
    }

    [Fact]
    public void Without_r_the_sender_is_the_invoking_user()
    {
        Assert.Equal(0, Mail("x\n", "-s", "plain", "bob@example.test"));
        var q = Assert.Single(Maildrop());
        Assert.False(q.Envelope.Sender.ToString().Contains('@'), q.Envelope.Sender.ToString());
        Assert.Equal("plain", Parse(q).Subject);
        Assert.Equal("text/plain", Parse(q).Body!.ContentType.MimeType);
    }

    [Fact]
    public void Dash_E_with_an_empty_body_sends_nothing_and_succeeds()
    {
        Assert.Equal(0, Mail("", "-E", "-s", "empty", "bob@example.test"));
        Assert.Empty(Maildrop());
        // Without -E the empty message is sent.
        Assert.Equal(0, Mail("", "-s", "empty", "bob@example.test"));
        Assert.Single(Maildrop());
    }

    [Fact]
    public void A_missing_attachment_or_a_bad_address_is_exit_status_1_and_nothing_queued()
    {
        Assert.Equal(1, Mail("x\n", "-a", Path.Combine(_config.FullName, "nope"), "bob@example.test"));
        Assert.Equal(1, Mail("x\n", "-s", "s", "bob@@@"));
        Assert.Empty(Maildrop());
        Assert.Contains("mail:", _q.Err.ToString());
    }

    private static string RawContent(QueuedMessage m)
    {
        using var s = m.OpenContent();
        return new StreamReader(s).ReadToEnd();
    }

    private static string RawSubject(QueuedMessage m) =>
        RawContent(m).Split('\n').First(l => l.StartsWith("Subject:", StringComparison.Ordinal));
}
