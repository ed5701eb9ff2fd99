using System.IO.Pipelines;
using System.Net;
using System.Text;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Daemon.Qmgr;
using Posthorn.Daemon.Smtpd;
using Posthorn.Logging;
using Posthorn.Mail.Queue;
using Posthorn.Smtp;
using Posthorn.Tests.Delivery;
using Posthorn.Tests.Smtp;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>The SMTP engine with smtpd's real sink: restrictions as a client sees and the log records them.</summary>
public sealed class SmtpdSinkPolicyTests : IDisposable
{
    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>One SMTP session over in-memory pipes, played line by line.</summary>
    internal sealed class Dialogue : IAsyncDisposable
    {
        private readonly Pipe _toServer = new();
        private readonly Pipe _toClient = new();
        private readonly StreamReader _reader;
        private readonly Task _session;
        private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(30));

        /// <param name="withQmgr">Run a queue manager of the session's process over the same queue, which smtpd may
        /// hand messages to (<see cref="QmgrService.TryAdmit"/>); without one nothing is delivered.</param>
        public Dialogue(PolicyHarness h, string mainCf, string client = "192.0.2.7", bool withQmgr = false)
        {
            var settings = h.Configure(mainCf);
            var queue = new QueueDirectory(Path.Combine(h.Dir, "spool"));
            queue.EnsureCreated();
            Queue = queue;
            var users = new FakeUsers(Path.Combine(h.Dir, "home"), "user");
            var local = new Posthorn.Mail.Delivery.LocalTransport(settings.Local, users, TimeProvider.System, h.Log);
            var ids = new QueueIdGenerator(TimeProvider.System);
            if (withQmgr)
            {
                Qmgr = new QmgrService(() => settings, queue, ids, new Transports(users, h.Log, TimeProvider.System), h.Log, TimeProvider.System);
                _qmgrRun = Qmgr.RunAsync(_stop.Token);
            }
            var sink = new SmtpdSink(settings, queue, ids, local, h.Log, TimeProvider.System, _ => { }) { Qmgr = Qmgr };
            var info = new SmtpSessionInfo { Client = new IPEndPoint(IPAddress.Parse(client), 40000), ClientName = "client.example" };
            var stream = new DuplexPipeStream(_toServer.Reader, _toClient.Writer);
            var session = new SmtpServerSession(stream, info, settings.Smtpd, sink, h.Log, TimeProvider.System);
            _session = Task.Run(() => session.RunAsync(_stop.Token));
            _reader = new StreamReader(_toClient.Reader.AsStream(), Encoding.UTF8);
        }

        public QueueDirectory Queue { get; }

        public QmgrService? Qmgr { get; }
        private readonly Task? _qmgrRun;

        public async Task<string> ReplyAsync()
        {
            var lines = new List<string>();
            while (true)
            {
                string? line = await _reader.ReadLineAsync(_stop.Token);
                Assert.NotNull(line);
                lines.Add(line);
                if (line.Length < 4 || line[3] == ' ') return string.Join("\n", lines);
            }
        }

        public async Task<string> CommandAsync(string line)
        {
            await _toServer.Writer.WriteAsync(Encoding.UTF8.GetBytes(line + "\r\n"), _stop.Token);
            return await ReplyAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await _toServer.Writer.CompleteAsync();
            try { await _session; } catch (OperationCanceledException) { }
            if (_qmgrRun is not null)
            {
                await _stop.CancelAsync();
                try { await _qmgrRun; } catch (OperationCanceledException) { }
            }
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task Helo_required_refuses_mail_before_helo_and_the_default_accepts_it()
    {
        await using (var d = new Dialogue(_h, "smtpd_helo_required = yes"))
        {
            await d.ReplyAsync();
            Assert.Equal("503 5.5.1 Error: send HELO/EHLO first", await d.CommandAsync("MAIL FROM:<a@sender.example>"));
        }
        await using (var d = new Dialogue(_h, ""))
        {
            await d.ReplyAsync();
            Assert.Equal("250 2.1.0 Ok", await d.CommandAsync("MAIL FROM:<a@sender.example>"));
        }
    }

    [Fact]
    public async Task Sender_rejection_is_delayed_to_rcpt_and_logged_as_postfix_does()
    {
        string access = _h.Hash("senders", "bad@x.example REJECT\n");
        await using var d = new Dialogue(_h, $"smtpd_sender_restrictions = check_sender_access {access}");
        await d.ReplyAsync();
        await d.CommandAsync("EHLO client.example");
        Assert.Equal("250 2.1.0 Ok", await d.CommandAsync("MAIL FROM:<bad@x.example>"));
        Assert.Equal("554 5.7.1 <bad@x.example>: Sender address rejected: Access denied", await d.CommandAsync("RCPT TO:<user@example.test>"));
        Assert.Contains("NOQUEUE: reject: RCPT from client.example[192.0.2.7]: 554 5.7.1 <bad@x.example>: Sender address rejected: "
            + "Access denied; from=<bad@x.example> to=<user@example.test> proto=ESMTP helo=<client.example>", _h.Lines);
    }

    [Fact]
    public async Task Data_restrictions_refuse_data_before_354()
    {
        await using var d = new Dialogue(_h, "smtpd_data_restrictions = reject");
        await d.ReplyAsync();
        await d.CommandAsync("HELO client.example");
        await d.CommandAsync("MAIL FROM:<a@sender.example>");
        Assert.Equal("250 2.1.5 Ok", await d.CommandAsync("RCPT TO:<user@example.test>"));
        Assert.Equal("554 5.7.1 <DATA>: Data command rejected: Access denied", await d.CommandAsync("DATA"));
        Assert.Contains(_h.Lines, l => l.Contains(": reject: DATA from client.example[192.0.2.7]: 554 5.7.1 <DATA>: Data command rejected: "
            + "Access denied; from=<a@sender.example> to=<user@example.test> proto=SMTP helo=<client.example>"));
    }

    [Fact]
    public async Task Discard_claims_delivery_and_leaves_nothing_in_the_queue()
    {
        string access = _h.Hash("senders", "junk@x.example DISCARD\n");
        await using var d = new Dialogue(_h, $"smtpd_sender_restrictions = check_sender_access {access}");
        await d.ReplyAsync();
        await d.CommandAsync("HELO client.example");
        await d.CommandAsync("MAIL FROM:<junk@x.example>");
        Assert.Equal("250 2.1.5 Ok", await d.CommandAsync("RCPT TO:<user@example.test>"));
        // Later recipients are not checked again, not even against the local recipient table.
        Assert.Equal("250 2.1.5 Ok", await d.CommandAsync("RCPT TO:<nobody@example.test>"));
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await d.CommandAsync("DATA"));
        Assert.StartsWith("250 2.0.0 Ok: queued as ", await d.CommandAsync("Subject: x\r\n\r\nbody\r\n."));
        Assert.Contains(_h.Lines, l => l.Contains("discard: RCPT from client.example[192.0.2.7]: <junk@x.example>: Sender address triggers DISCARD action"));
        Assert.Empty(Directory.EnumerateFiles(d.Queue.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Hold_puts_the_message_on_the_hold_queue()
    {
        string access = _h.Hash("senders", "suspect@x.example HOLD\n");
        await using var d = new Dialogue(_h, $"smtpd_sender_restrictions = check_sender_access {access}");
        await d.ReplyAsync();
        await d.CommandAsync("HELO client.example");
        await d.CommandAsync("MAIL FROM:<suspect@x.example>");
        Assert.Equal("250 2.1.5 Ok", await d.CommandAsync("RCPT TO:<user@example.test>"));
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await d.CommandAsync("DATA"));
        string queued = await d.CommandAsync("Subject: x\r\n\r\nbody\r\n.");
        Assert.StartsWith("250 2.0.0 Ok: queued as ", queued);
        string id = queued["250 2.0.0 Ok: queued as ".Length..];
        Assert.True(File.Exists(Path.Combine(d.Queue.Root, "hold", id)));
        Assert.False(File.Exists(Path.Combine(d.Queue.Root, "incoming", id)));
    }

    [Fact]
    public async Task With_a_free_slot_the_queue_file_is_published_in_active_and_delivered_from_there()
    {
        await using var d = new Dialogue(_h, "qmgr_message_active_limit = 1\nalias_maps =\nhome_mailbox = Maildir/", withQmgr: true);
        await d.ReplyAsync();
        await d.CommandAsync("HELO client.example");
        await d.CommandAsync("MAIL FROM:<someone@sender.example>");
        Assert.Equal("250 2.1.5 Ok", await d.CommandAsync("RCPT TO:<user@example.test>"));
        await d.CommandAsync("DATA");
        string queued = await d.CommandAsync("Subject: straight to active\r\n\r\nbody\r\n.");
        Assert.StartsWith("250 2.0.0 Ok: queued as ", queued);
        string id = queued["250 2.0.0 Ok: queued as ".Length..];

        try
        {
            await Poll.Until(() => _h.LogSink.Lines.Any(l => l.Contains($"{id}: removed")), $"the delivery of {id}");
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException(e.Message + "; log:\n" + string.Join("\n", _h.LogSink.Lines));
        }
        Assert.Contains(_h.LogSink.Lines, l => l.Contains($"{id}: to=<user@example.test>") && l.Contains("status=sent"));
        Assert.Contains("Subject: straight to active", File.ReadAllText(Directory.GetFiles(Path.Combine(_h.Dir, "home", "user", "Maildir", "new")).Single()));
        // The commit's rename and directory fsync went to active/; incoming/ was never written or synced.
        Assert.Equal(0, d.Queue.SyncOf(QueueName.Incoming).FsyncCount);
        Assert.True(d.Queue.SyncOf(QueueName.Active).FsyncCount > 0);
        await Poll.Until(() => d.Qmgr!.TryAdmit(), "the slot back after the delivery");
        d.Qmgr!.Declined();
    }

    [Fact]
    public async Task A_held_message_goes_to_hold_and_gives_its_active_slot_back()
    {
        string access = _h.Hash("senders", "suspect@x.example HOLD\n");
        await using var d = new Dialogue(_h, $"smtpd_sender_restrictions = check_sender_access {access}\nqmgr_message_active_limit = 1",
            withQmgr: true);
        await d.ReplyAsync();
        await d.CommandAsync("HELO client.example");
        await d.CommandAsync("MAIL FROM:<suspect@x.example>");
        await d.CommandAsync("RCPT TO:<user@example.test>");
        await d.CommandAsync("DATA");
        string queued = await d.CommandAsync("Subject: x\r\n\r\nbody\r\n.");
        string id = queued["250 2.0.0 Ok: queued as ".Length..];
        Assert.True(File.Exists(Path.Combine(d.Queue.Root, "hold", id)));
        Assert.False(File.Exists(Path.Combine(d.Queue.Root, "active", id)));
        // The only slot, taken before the commit, is free again: a held message is not the queue manager's.
        await Poll.Until(() => d.Qmgr!.TryAdmit(), "the slot back from the held message");
        d.Qmgr!.Declined();
    }
}
