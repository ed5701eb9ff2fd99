using System.Text;
using Posthorn.Core;
using Posthorn.Mail.Cleanup;
using Posthorn.Mail.Queue;
using Posthorn.Tests.Queue;
using Xunit;

namespace Posthorn.Tests.Cleanup;

public class CleanupWriterTests
{
    private static readonly QueueId Id = new("3F1A2B0C4D");
    private static readonly CleanupOptions Options = new("example.test", "mail.example.test");

    /// <summary>Runs content through cleanup into incoming; returns the queued message.</summary>
    private static async Task<QueuedMessage> RunAsync(TempQueue q, string content, CleanupOptions? options = null,
        string sender = "alice@example.test", string[]? recipients = null, string? fullName = null, int chunk = int.MaxValue)
    {
        var s = SmtpPath.FromAddress(sender);
        await using (var cleanup = new CleanupWriter(QueueFileWriter.Create(q.Dir, Id, QueueName.Incoming), Id, options ?? Options, q.Clock, q.Log)
        {
            Sender = s,
            SenderFullName = fullName,
        })
        {
            byte[] bytes = Encoding.UTF8.GetBytes(content);
            // Feed whole lines, at most `chunk` lines per call.
            var lines = new List<byte[]>();
            int start = 0;
            for (int i = 0; i < bytes.Length; i++)
                if (bytes[i] == '\n') { lines.Add(bytes[start..(i + 1)]); start = i + 1; }
            if (start < bytes.Length) lines.Add(bytes[start..]);
            foreach (var group in lines.Chunk(Math.Min(chunk, Math.Max(1, lines.Count))))
                await cleanup.WriteAsync(group.SelectMany(l => l).ToArray(), default);
            var env = new QueueEnvelope(s, (recipients ?? ["bob@example.test"]).Select(r => new QueueRecipient(r)).ToList(), TempQueue.Arrival);
            await cleanup.CommitAsync(env, default);
        }
        return QueueFile.Read(q.Dir.PathOf(QueueName.Incoming, Id));
    }

    [Fact]
    public async Task Adds_Message_Id_Date_and_From_when_missing_and_logs_the_message_id()
    {
        using var q = new TempQueue();
        var m = await RunAsync(q, "Subject: hello\n\nbody\n", chunk: 1);
        Assert.Equal(
            "Subject: hello\n" +
            "Message-Id: <20251125131708.3F1A2B0C4D@mail.example.test>\n" +
            "Date: Tue, 25 Nov 2025 13:17:08 +0000\n" +
            "From: alice@example.test\n" +
            "\nbody\n",
            TempQueue.ReadContent(m));
        Assert.Contains("postfix/cleanup[4242]: 3F1A2B0C4D: message-id=<20251125131708.3F1A2B0C4D@mail.example.test>", q.LogSink.Lines);
    }

    [Fact]
    public async Task Keeps_existing_Message_Id_Date_and_From()
    {
        using var q = new TempQueue();
        string content = "From: Alice <alice@example.test>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <abc@x.test>\nSubject: s\n\nbody\n";
        var m = await RunAsync(q, content);
        Assert.Equal(content, TempQueue.ReadContent(m));
        Assert.Contains("postfix/cleanup[4242]: 3F1A2B0C4D: message-id=<abc@x.test>", q.LogSink.Lines);
    }

    [Fact]
    public async Task Remote_clients_get_no_added_headers_and_no_header_rewriting()
    {
        using var q = new TempQueue();
        string content = "To: root\nSubject: s\n\nbody\n";
        var m = await RunAsync(q, content, Options with { LocalHeaderRewrite = false });
        Assert.Equal(content, TempQueue.ReadContent(m));
    }

    [Fact]
    public async Task Qualifies_root_in_headers_and_envelope_with_myorigin()
    {
        using var q = new TempQueue();
        var m = await RunAsync(q, "From: root\nTo: Bob <bob>, carol@elsewhere.test\nSubject: s\n\nbody\n",
            sender: "root", recipients: ["postmaster"]);
        string text = TempQueue.ReadContent(m);
        Assert.StartsWith("From: root@example.test\nTo: Bob <bob@example.test>, carol@elsewhere.test\nSubject: s\n", text);
        Assert.Equal("root@example.test", m.Envelope.Sender.ToString());
        Assert.Equal(new QueueRecipient("postmaster@example.test", "postmaster"), m.Envelope.Recipients[0]);
    }

    [Fact]
    public void Qualify_appends_myorigin_only_to_unqualified_non_null_addresses()
    {
        Assert.Equal("root@example.test", CleanupWriter.Qualify(SmtpPath.FromAddress("root"), Options).ToString());
        Assert.Equal("a@b.test", CleanupWriter.Qualify(SmtpPath.FromAddress("a@b.test"), Options).ToString());
        Assert.True(CleanupWriter.Qualify(SmtpPath.Null, Options).IsNull);
        Assert.Equal("root", CleanupWriter.Qualify(SmtpPath.FromAddress("root"), Options with { AppendAtMyOrigin = false }).ToString());
    }

    [Fact]
    public async Task Null_sender_gets_From_MAILER_DAEMON_and_a_full_name_gets_a_phrase()
    {
        using (var q = new TempQueue())
        {
            var m = await RunAsync(q, "Subject: bounce\n\nx\n", sender: "");
            Assert.Contains("\nFrom: MAILER-DAEMON\n", TempQueue.ReadContent(m));
            Assert.True(m.Envelope.Sender.IsNull);
        }
        using (var q = new TempQueue())
        {
            var m = await RunAsync(q, "Subject: hi\n\nx\n", sender: "alice", fullName: "Alice Liddell");
            Assert.Contains("\nFrom: Alice Liddell <alice@example.test>\n", TempQueue.ReadContent(m));
        }
    }

    [Fact]
    public async Task Message_without_headers_or_blank_line_still_gets_headers_and_a_body()
    {
        using var q = new TempQueue();
        var m = await RunAsync(q, "just a line\nand another\n");
        string text = TempQueue.ReadContent(m);
        Assert.StartsWith("Message-Id: <", text);
        Assert.EndsWith("\nFrom: alice@example.test\n\njust a line\nand another\n", text);
    }

    [Fact]
    public async Task Empty_message_gets_the_added_headers_and_an_empty_body()
    {
        using var q = new TempQueue();
        var m = await RunAsync(q, "");
        string text = TempQueue.ReadContent(m);
        Assert.StartsWith("Message-Id: <", text);
        Assert.EndsWith("From: alice@example.test\n\n", text);
        Assert.Equal(text.Length, m.ContentLength);
    }

    [Fact]
    public async Task Header_section_over_header_size_limit_continues_as_body()
    {
        using var q = new TempQueue();
        var sb = new StringBuilder();
        for (int i = 0; i < 10; i++) sb.Append($"X-Filler-{i}: {new string('x', 40)}\n");
        sb.Append("Subject: late\n\nbody\n");
        var m = await RunAsync(q, sb.ToString(), Options with { HeaderSizeLimit = 200 }, chunk: 3);
        string text = TempQueue.ReadContent(m);
        int blank = text.IndexOf("\n\n", StringComparison.Ordinal);
        string headers = text[..blank], body = text[(blank + 2)..];
        Assert.Contains("X-Filler-0:", headers);
        Assert.DoesNotContain("X-Filler-9:", headers);
        Assert.Contains("Message-Id: <", headers);
        Assert.StartsWith("X-Filler-", body);
        Assert.EndsWith("Subject: late\n\nbody\n", body);
    }

    [Fact]
    public async Task Too_many_Received_headers_refuse_the_message_and_leave_no_file()
    {
        using var q = new TempQueue();
        string content = string.Concat(Enumerable.Repeat("Received: from a by b\n", 4)) + "\nloop\n";
        var options = Options with { HopCountLimit = 3 };
        await using (var cleanup = new CleanupWriter(QueueFileWriter.Create(q.Dir, Id, QueueName.Incoming), Id, options, q.Clock, q.Log))
        {
            await cleanup.WriteAsync(Encoding.UTF8.GetBytes(content), default);
            Assert.Equal(CleanupReplies.TooManyHops, cleanup.Rejection);
            var env = new QueueEnvelope(SmtpPath.FromAddress("a@b.test"), [new QueueRecipient("c@d.test")], TempQueue.Arrival);
            var e = await Assert.ThrowsAsync<CleanupRejectedException>(async () => await cleanup.CommitAsync(env, default));
            Assert.Equal("554 5.4.6 Error: too many hops", e.Reply.ToString());
        }
        Assert.Empty(Directory.GetFiles(q.Root, "*", SearchOption.AllDirectories));

        using var ok = new TempQueue();
        var m = await RunAsync(ok, string.Concat(Enumerable.Repeat("Received: from a by b\n", 3)) + "\nfine\n", options);
        Assert.EndsWith("\nfine\n", TempQueue.ReadContent(m));
    }

    [Fact]
    public async Task Extract_recipients_takes_To_Cc_Bcc_and_removes_Bcc()
    {
        using var q = new TempQueue();
        var m = await RunAsync(q, "To: a@x.test, b\nCc: C <c@x.test>\nBcc: hidden@x.test\nSubject: s\n\nbody\n",
            Options with { ExtractRecipients = true }, recipients: ["a@x.test"]);
        Assert.Equal(["a@x.test", "b@example.test", "c@x.test", "hidden@x.test"], m.Envelope.Recipients.Select(r => r.Address));
        string text = TempQueue.ReadContent(m);
        Assert.DoesNotContain("Bcc", text);
        Assert.Contains("To: a@x.test, b@example.test\n", text);
    }

    [Fact]
    public async Task No_recipients_at_all_is_refused()
    {
        using var q = new TempQueue();
        await Assert.ThrowsAsync<CleanupRejectedException>(() => RunAsync(q, "Subject: s\n\nx\n", recipients: []));
        Assert.Empty(Directory.GetFiles(q.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Date_pads_the_day_with_a_space_like_postfix()
    {
        Assert.Equal("Tue,  2 Dec 2025 13:17:08 -0530",
            CleanupWriter.FormatDate(new DateTimeOffset(2025, 12, 2, 13, 17, 8, TimeSpan.FromMinutes(-330))));
    }
}
