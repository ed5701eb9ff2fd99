using System.Text;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Mail.Cleanup;
using Posthorn.Mail.Queue;
using Posthorn.Tests.Queue;
using Xunit;

namespace Posthorn.Tests.Cleanup;

/// <summary>header_checks(5) and address rewriting inside cleanup, with real regexp:/texthash: tables from main.cf.</summary>
public sealed class ContentCheckTests : IDisposable
{
    private static readonly QueueId Id = new("3F1A2B0C4D");
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-checks-");

    public void Dispose() => _dir.Delete(recursive: true);

    private CleanupOptions Options(string mainCf, params (string Name, string Text)[] tables)
    {
        foreach (var (name, text) in tables)
            File.WriteAllText(Path.Combine(_dir.FullName, name), text);
        File.WriteAllText(Path.Combine(_dir.FullName, "main.cf"),
            "myhostname = mail.example.test\nmyorigin = example.test\nmydestination = example.test\n" + mainCf.Replace("DIR", _dir.FullName) + "\n");
        File.WriteAllText(Path.Combine(_dir.FullName, "master.cf"), "smtp inet n - n - - smtpd\n");
        return CleanupOptions.From(ConfigSnapshot.Load(_dir.FullName)) with { LocalHeaderRewrite = false };
    }

    /// <summary>Feeds <paramref name="content"/> line by line; returns the queued message, or the refusal.</summary>
    private static async Task<(QueuedMessage? Message, SmtpReply? Refusal, CleanupWriter Writer)> RunAsync(TempQueue q, CleanupOptions o,
        string content, string sender = "alice@example.test", params string[] recipients)
    {
        var rcpts = (recipients.Length == 0 ? ["bob@example.test"] : recipients).Select(SmtpPath.FromAddress).ToList();
        var cleanup = new CleanupWriter(QueueFileWriter.Create(q.Dir, Id, QueueName.Incoming), Id, o, q.Clock, q.Log)
        {
            Sender = SmtpPath.FromAddress(sender),
            LogOrigin = "client.example[192.0.2.7]",
            Protocol = "ESMTP",
            Helo = "client.example",
            EnvelopeRecipients = rcpts,
        };
        await using (cleanup)
        {
            foreach (string line in content.Split('\n')[..^1])
                await cleanup.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), default);
            var env = new QueueEnvelope(SmtpPath.FromAddress(sender), rcpts.Select(r => new QueueRecipient(r.ToString())).ToList(), TempQueue.Arrival);
            try
            {
                await cleanup.CommitAsync(env, default);
            }
            catch (CleanupRejectedException e)
            {
                return (null, e.Reply, cleanup);
            }
        }
        string path = q.Dir.PathOf(QueueName.Incoming, Id);
        return (File.Exists(path) ? QueueFile.Read(path) : null, null, cleanup);
    }

    [Fact]
    public async Task Header_checks_REJECT_refuses_with_550_5_7_1_and_logs_like_postfix()
    {
        using var q = new TempQueue();
        var o = Options("header_checks = regexp:DIR/hc", ("hc", "/^Subject:.*viagra/  REJECT\n"));
        var (m, refusal, _) = await RunAsync(q, o, "Subject: cheap viagra\n\nbody\n");
        Assert.Null(m);
        Assert.Equal("550 5.7.1 message content rejected", refusal!.ToString());
        Assert.Contains(q.LogSink.Lines, l => l.EndsWith(
            "postfix/cleanup[4242]: 3F1A2B0C4D: reject: header Subject: cheap viagra from client.example[192.0.2.7]; " +
            "from=<alice@example.test> to=<bob@example.test> proto=ESMTP helo=<client.example>: 5.7.1 message content rejected"));
    }

    [Fact]
    public async Task Reject_text_and_status_come_from_the_table()
    {
        using var q = new TempQueue();
        var o = Options("header_checks = regexp:DIR/hc", ("hc", "/^X-Spam: yes/  REJECT 5.7.9 Go away\n"));
        var (_, refusal, _) = await RunAsync(q, o, "X-Spam: yes\n\nbody\n");
        Assert.Equal("550 5.7.9 Go away", refusal!.ToString());
    }

    [Fact]
    public async Task Ignore_replace_prepend_and_warn_edit_the_headers()
    {
        using var q = new TempQueue();
        var o = Options("header_checks = regexp:DIR/hc", ("hc",
            "/^X-Secret:/  IGNORE\n/^X-Mailer:/  REPLACE X-Mailer: hidden\n/^Subject:/  PREPEND X-Seen: subject\n/^To:/  WARN to seen\n"));
        var (m, _, _) = await RunAsync(q, o, "X-Secret: 42\nX-Mailer: Foo 1.0\nSubject: hi\nTo: bob@example.test\n\nbody\n");
        Assert.Equal("X-Mailer: hidden\nX-Seen: subject\nSubject: hi\nTo: bob@example.test\n\nbody\n", TempQueue.ReadContent(m!));
        Assert.Contains(q.LogSink.Lines, l => l.Contains("3F1A2B0C4D: warning: header To: bob@example.test from client.example[192.0.2.7];") && l.EndsWith(": to seen"));
    }

    [Fact]
    public async Task Body_checks_see_body_lines_and_discard_stores_nothing()
    {
        using var q = new TempQueue();
        var o = Options("body_checks = regexp:DIR/bc", ("bc", "/^Click here/  DISCARD\n"));
        var (m, refusal, writer) = await RunAsync(q, o, "Subject: x\n\nhello\nClick here now\n");
        Assert.Null(refusal);
        Assert.Null(m);
        Assert.True(writer.Discarded);
        Assert.Contains(q.LogSink.Lines, l => l.Contains("3F1A2B0C4D: discard: body Click here now from client.example[192.0.2.7];"));
    }

    [Fact]
    public async Task Mime_part_headers_go_to_mime_header_checks_and_attached_message_headers_to_nested_header_checks()
    {
        using var q = new TempQueue();
        var o = Options("header_checks = regexp:DIR/hc\nnested_header_checks = regexp:DIR/nc\nbody_checks = regexp:DIR/bc",
            ("hc", "/name=.*\\.exe/  REJECT executable attachment\n"),
            ("nc", "/^Subject: inner/  REPLACE Subject: [inner]\n"),
            ("bc", "/^secret line/  REPLACE (removed)\n"));
        string content = "Subject: outer\nContent-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n--b1\n" +
            "Content-Type: message/rfc822\n\nSubject: inner\nFrom: x@y.example\n\nsecret line\n--b1--\n";
        var (m, refusal, _) = await RunAsync(q, o, content);
        Assert.Null(refusal);
        Assert.Equal(content.Replace("Subject: inner", "Subject: [inner]").Replace("secret line", "(removed)"), TempQueue.ReadContent(m!));

        using var q2 = new TempQueue();
        var (_, refused, _) = await RunAsync(q2, o, "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n" +
            "Content-Type: application/octet-stream;\n name=\"setup.exe\"\n\nTVqQ\n--b1--\n");
        Assert.Equal("550 5.7.1 executable attachment", refused!.ToString());
    }

    [Fact]
    public async Task Redirect_replaces_the_recipients_and_filter_is_stored_in_the_queue_file()
    {
        using var q = new TempQueue();
        var o = Options("header_checks = regexp:DIR/hc", ("hc", "/^Subject: audit/  REDIRECT auditor@example.test\n/^X-Scan:/  FILTER scan:[127.0.0.1]:10025\n"));
        var (m, _, _) = await RunAsync(q, o, "Subject: audit me\nX-Scan: 1\n\nbody\n", "alice@example.test", "bob@example.test", "carol@example.test");
        Assert.Equal(["auditor@example.test"], m!.Envelope.Recipients.Select(r => r.Address).ToArray());
        Assert.Equal("scan:[127.0.0.1]:10025", m.Envelope.Attributes[CleanupWriter.ContentFilterAttribute]);
    }

    [Fact]
    public async Task Canonical_mapping_and_masquerading_rewrite_envelope_and_header_addresses()
    {
        using var q = new TempQueue();
        var o = Options("canonical_maps = texthash:DIR/c\nmasquerade_domains = corp.example\nvirtual_alias_maps = texthash:DIR/v",
            ("c", "alice@example.test  Alice.Smith@host.corp.example\n"),
            ("v", "team@example.test  ann@example.test, bob@example.test\n"));
        var (m, _, _) = await RunAsync(q, o, "From: Alice <alice@example.test>\nTo: team@example.test\n\nbody\n",
            "alice@example.test", "team@example.test");
        Assert.Equal("Alice.Smith@corp.example", m!.Envelope.Sender.ToString());
        Assert.Equal(["ann@example.test", "bob@example.test"], m.Envelope.Recipients.Select(r => r.Address).ToArray());
        Assert.All(m.Envelope.Recipients, r => Assert.Equal("team@example.test", r.OriginalRecipient));
        // Virtual aliasing does not touch headers (virtual(5)); canonical and masquerading do.
        Assert.StartsWith("From: Alice <Alice.Smith@corp.example>\nTo: team@example.test\n", TempQueue.ReadContent(m));
    }
}
