using Posthorn.Core;
using Posthorn.Daemon.Tools;
using Posthorn.Mail.Cleanup;
using Posthorn.Mail.Queue;
using Posthorn.Tests.Queue;
using Xunit;

namespace Posthorn.Tests.Cleanup;

public class PickupTests
{
    private static readonly CleanupOptions Options = new("example.test", "mail.example.test");

    [Fact]
    public async Task Pickup_moves_a_sendmail_message_from_maildrop_through_cleanup_to_incoming()
    {
        using var q = new TempQueue();
        Assert.Equal(0, Sendmail.Run(["-f", "root", "bob"], q.Tool("Subject: hi\n\nhello\n"), q.Root));
        var dropped = Assert.Single(q.Dir.List(QueueName.Maildrop));

        var id = await Pickup.ProcessAsync(q.Dir, dropped, Options, new QueueIdGenerator(q.Clock), q.Clock, q.Log, default);

        Assert.NotNull(id);
        Assert.Empty(q.Dir.List(QueueName.Maildrop));
        Assert.Equal([id.Value], q.Dir.List(QueueName.Incoming));
        var m = QueueFile.Read(q.Dir.PathOf(QueueName.Incoming, id.Value));
        Assert.Equal("root@example.test", m.Envelope.Sender.ToString());
        Assert.Equal(new QueueRecipient("bob@example.test", "bob"), Assert.Single(m.Envelope.Recipients));
        Assert.Equal("local", m.Envelope.Attributes["rewrite_context"]);
        string text = TempQueue.ReadContent(m);
        Assert.StartsWith("Subject: hi\nMessage-Id: <20251125131708." + id.Value + "@mail.example.test>\n", text);
        Assert.EndsWith("From: root@example.test\n\nhello\n", text);
        Assert.Contains($"postfix/pickup[4242]: {id.Value}: uid={UnixUser.RealUserId()} from=<root>", q.LogSink.Lines);
    }

    [Fact]
    public async Task Pickup_with_sendmail_t_takes_recipients_from_headers_and_drops_Bcc()
    {
        using var q = new TempQueue();
        Assert.Equal(0, Sendmail.Run(["-t", "-F", "Root User"], q.Tool("To: bob\nBcc: carol@x.test\nSubject: s\n\nbody\n.\nnot part\n"), q.Root));
        var dropped = Assert.Single(q.Dir.List(QueueName.Maildrop));

        var id = await Pickup.ProcessAsync(q.Dir, dropped, Options, new QueueIdGenerator(q.Clock), q.Clock, q.Log, default);

        var m = QueueFile.Read(q.Dir.PathOf(QueueName.Incoming, id!.Value));
        Assert.Equal(["bob@example.test", "carol@x.test"], m.Envelope.Recipients.Select(r => r.Address));
        Assert.False(m.Envelope.Attributes.ContainsKey("extract_recipients"));
        string text = TempQueue.ReadContent(m);
        Assert.DoesNotContain("Bcc:", text);
        Assert.Contains($"\nFrom: Root User <{Environment.UserName}@example.test>\n", text);
        Assert.EndsWith("\n\nbody\n", text);
    }

    [Fact]
    public async Task Corrupt_maildrop_file_goes_to_the_corrupt_queue()
    {
        using var q = new TempQueue();
        var id = new QueueId("0123456789AB");
        File.WriteAllText(q.Dir.PathOf(QueueName.Maildrop, id), "not a queue file");
        Assert.Null(await Pickup.ProcessAsync(q.Dir, id, Options, new QueueIdGenerator(q.Clock), q.Clock, q.Log, default));
        Assert.Equal([id], q.Dir.List(QueueName.Corrupt));
        Assert.Empty(q.Dir.List(QueueName.Incoming));
    }

    [Fact]
    public async Task Missing_maildrop_file_is_nothing_to_do()
    {
        using var q = new TempQueue();
        Assert.Null(await Pickup.ProcessAsync(q.Dir, new QueueId("0123456789AB"), Options, new QueueIdGenerator(q.Clock), q.Clock, q.Log, default));
    }

    [Fact]
    public async Task Pickup_mail_gets_the_same_canonical_virtual_and_header_checks_as_smtp_mail()
    {
        using var q = new TempQueue();
        string dir = Path.Combine(q.Root, "etc");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "canonical"), "root@example.test  admin@example.test\n");
        File.WriteAllText(Path.Combine(dir, "virtual"), "bob@example.test  carol@x.test\n");
        File.WriteAllText(Path.Combine(dir, "header_checks"), "/^Subject: forbidden/  REJECT\n");
        File.WriteAllText(Path.Combine(dir, "main.cf"), $"""
            myorigin = example.test
            myhostname = mail.example.test
            mydestination = example.test
            canonical_maps = texthash:{dir}/canonical
            virtual_alias_maps = texthash:{dir}/virtual
            header_checks = regexp:{dir}/header_checks
            """);
        File.WriteAllText(Path.Combine(dir, "master.cf"), "smtp inet n - n - - smtpd\n");
        var options = CleanupOptions.From(Posthorn.Config.ConfigSnapshot.Load(dir));

        Assert.Equal(0, Sendmail.Run(["-f", "root", "bob"], q.Tool("Subject: hi\n\nhello\n"), q.Root));
        var id = await Pickup.ProcessAsync(q.Dir, Assert.Single(q.Dir.List(QueueName.Maildrop)), options, new QueueIdGenerator(q.Clock), q.Clock, q.Log, default);
        var m = QueueFile.Read(q.Dir.PathOf(QueueName.Incoming, id!.Value));
        Assert.Equal("admin@example.test", m.Envelope.Sender.ToString());
        Assert.Equal(new QueueRecipient("carol@x.test", "bob"), Assert.Single(m.Envelope.Recipients));
        Assert.Contains("\nFrom: admin@example.test\n", "\n" + TempQueue.ReadContent(m));

        Assert.Equal(0, Sendmail.Run(["-f", "root", "bob"], q.Tool("Subject: forbidden\n\nhello\n"), q.Root));
        var refused = Assert.Single(q.Dir.List(QueueName.Maildrop));
        Assert.Null(await Pickup.ProcessAsync(q.Dir, refused, options, new QueueIdGenerator(q.Clock), q.Clock, q.Log, default));
        Assert.Empty(q.Dir.List(QueueName.Maildrop));
        Assert.Contains(q.LogSink.Lines, l => l.Contains(": reject: header Subject: forbidden from local; from=<root>"));
    }
}
