using System.Text;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Mail.Cleanup;
using Posthorn.Mail.Queue;
using Posthorn.Tests.Queue;
using Xunit;

namespace Posthorn.Tests.Cleanup;

/// <summary>header_checks(5)/body_checks HOLD and access(5) HOLD (the hold queue), and content_filter stored by cleanup.</summary>
public sealed class HoldAndFilterTests : IDisposable
{
    private static readonly QueueId Id = new("4B2C3D0E5F");
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-hold-");

    public void Dispose() => _dir.Delete(recursive: true);

    private CleanupOptions Options(string mainCf, string checks = "")
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "checks"), checks);
        File.WriteAllText(Path.Combine(_dir.FullName, "main.cf"),
            "myhostname = mail.example.test\nmyorigin = example.test\nmydestination = example.test\n" + mainCf.Replace("DIR", _dir.FullName) + "\n");
        File.WriteAllText(Path.Combine(_dir.FullName, "master.cf"), "smtp inet n - n - - smtpd\n");
        return CleanupOptions.From(ConfigSnapshot.Load(_dir.FullName)) with { LocalHeaderRewrite = false };
    }

    /// <summary>Runs one message through cleanup; returns the queue it was published in (null: none) and its file.</summary>
    private static async Task<(QueueName? Queue, QueuedMessage? Message)> RunAsync(TempQueue q, CleanupOptions o, string content,
        CleanupActions? actions = null)
    {
        var rcpts = new List<SmtpPath> { SmtpPath.FromAddress("bob@example.test") };
        await using (var cleanup = new CleanupWriter(QueueFileWriter.Create(q.Dir, Id, QueueName.Incoming), Id, o, q.Clock, q.Log)
        {
            Sender = SmtpPath.FromAddress("alice@example.test"),
            LogOrigin = "client.example[192.0.2.7]",
            Protocol = "ESMTP",
            Helo = "client.example",
            EnvelopeRecipients = rcpts,
            Actions = actions ?? new CleanupActions(),
        })
        {
            await cleanup.WriteAsync(Encoding.UTF8.GetBytes(content), default);
            var env = new QueueEnvelope(SmtpPath.FromAddress("alice@example.test"), [new QueueRecipient("bob@example.test")], TempQueue.Arrival);
            await cleanup.CommitAsync(env, default);
        }
        foreach (var queue in new[] { QueueName.Incoming, QueueName.Hold })
        {
            string path = q.Dir.PathOf(queue, Id);
            if (File.Exists(path)) return (queue, QueueFile.Read(path));
        }
        return (null, null);
    }

    [Fact]
    public async Task Header_checks_HOLD_commits_into_the_hold_queue_and_logs_like_postfix()
    {
        using var q = new TempQueue();
        var o = Options("header_checks = regexp:DIR/checks", "/^Subject:.*invoice/  HOLD suspicious invoice\n");
        var (queue, m) = await RunAsync(q, o, "Subject: your invoice\n\nbody\n");
        Assert.Equal(QueueName.Hold, queue);
        Assert.Equal("bob@example.test", m!.Envelope.Recipients[0].Address);
        Assert.False(File.Exists(q.Dir.PathOf(QueueName.Incoming, Id)));
        // Postfix cleanup_act_log: "ID: hold: header Subject: … from ORIGIN; from=<…> to=<…> proto=… helo=<…>: text".
        Assert.Contains(q.LogSink.Lines, l => l.EndsWith(
            "postfix/cleanup[4242]: 4B2C3D0E5F: hold: header Subject: your invoice from client.example[192.0.2.7]; " +
            "from=<alice@example.test> to=<bob@example.test> proto=ESMTP helo=<client.example>: suspicious invoice"));
    }

    [Fact]
    public async Task Body_checks_HOLD_without_text_holds_and_logs_no_text()
    {
        using var q = new TempQueue();
        var o = Options("body_checks = regexp:DIR/checks", "/wire transfer/  HOLD\n");
        var (queue, _) = await RunAsync(q, o, "Subject: hi\n\nplease make a wire transfer\n");
        Assert.Equal(QueueName.Hold, queue);
        Assert.Contains(q.LogSink.Lines, l => l.EndsWith(
            "4B2C3D0E5F: hold: body please make a wire transfer from client.example[192.0.2.7]; " +
            "from=<alice@example.test> to=<bob@example.test> proto=ESMTP helo=<client.example>"));
    }

    [Fact]
    public async Task A_message_without_hold_goes_to_incoming()
    {
        using var q = new TempQueue();
        var o = Options("header_checks = regexp:DIR/checks", "/^Subject:.*invoice/  HOLD\n");
        var (queue, _) = await RunAsync(q, o, "Subject: lunch\n\nbody\n");
        Assert.Equal(QueueName.Incoming, queue);
    }

    [Fact]
    public async Task An_access_table_HOLD_handed_in_as_an_action_commits_into_hold()
    {
        using var q = new TempQueue();
        var (queue, _) = await RunAsync(q, Options(""), "Subject: lunch\n\nbody\n", new CleanupActions { Hold = true });
        Assert.Equal(QueueName.Hold, queue);
    }

    [Fact]
    public async Task Content_filter_parameter_is_stored_and_a_FILTER_action_takes_precedence()
    {
        using var q = new TempQueue();
        var o = Options("content_filter = scan:[127.0.0.1]:10025");
        var (_, m) = await RunAsync(q, o, "Subject: lunch\n\nbody\n");
        Assert.Equal("scan:[127.0.0.1]:10025", m!.Envelope.Attributes[CleanupWriter.ContentFilterAttribute]);

        using var q2 = new TempQueue();
        var (_, m2) = await RunAsync(q2, o, "Subject: lunch\n\nbody\n", new CleanupActions { Filter = "smtp:[127.0.0.1]:10026" });
        // postconf(5) content_filter: lower precedence than a FILTER action from access(5) or header/body checks.
        Assert.Equal("smtp:[127.0.0.1]:10026", m2!.Envelope.Attributes[CleanupWriter.ContentFilterAttribute]);
    }

    [Fact]
    public async Task An_empty_content_filter_stores_no_filter()
    {
        using var q = new TempQueue();
        var (_, m) = await RunAsync(q, Options("content_filter ="), "Subject: lunch\n\nbody\n");
        Assert.False(m!.Envelope.Attributes.ContainsKey(CleanupWriter.ContentFilterAttribute));
    }

    [Fact]
    public async Task Locally_submitted_mail_that_header_checks_hold_goes_from_maildrop_to_hold()
    {
        using var q = new TempQueue();
        var o = Options("header_checks = regexp:DIR/checks", "/^Subject: payroll/  HOLD\n");
        Assert.Equal(0, Posthorn.Daemon.Tools.Sendmail.Run(["-f", "root", "bob"], q.Tool("Subject: payroll\n\nhello\n"), q.Root));
        var dropped = Assert.Single(q.Dir.List(QueueName.Maildrop));
        var id = await Pickup.ProcessAsync(q.Dir, dropped, o, new QueueIdGenerator(q.Clock), q.Clock, q.Log, default);
        Assert.Equal([id!.Value], q.Dir.List(QueueName.Hold));
        Assert.Empty(q.Dir.List(QueueName.Incoming));
        Assert.Contains(q.LogSink.Lines, l => l.Contains($"{id.Value}: hold: header Subject: payroll from local;", StringComparison.Ordinal));
    }
}
