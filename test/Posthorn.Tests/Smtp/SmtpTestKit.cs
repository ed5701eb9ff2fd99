using Xunit;
using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>The server's side of an in-memory connection: reads what the client wrote, writes to the
/// client, and counts its writes to the client (to see RFC 2920 batching: the pipe writer sends
/// one write per flush for small replies). Each client write arrives whole.</summary>
internal sealed class DuplexPipeStream(PipeReader fromClient, PipeWriter toClient) : Stream
{
    private readonly Stream _in = fromClient.AsStream();
    private readonly Stream _out = toClient.AsStream();
    private int _writes;

    /// <summary>Writes to the client, counted before the bytes become visible to it.</summary>
    public int Writes => Volatile.Read(ref _writes);
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => _in.Read(buffer, offset, count);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => _in.ReadAsync(buffer, ct);
    public override void Write(byte[] buffer, int offset, int count)
    {
        Interlocked.Increment(ref _writes);
        _out.Write(buffer, offset, count);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        Interlocked.Increment(ref _writes);
        return _out.WriteAsync(buffer, ct);
    }

    public override void Flush() => _out.Flush();
    public override Task FlushAsync(CancellationToken ct) => _out.FlushAsync(ct);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _in.Dispose();
            _out.Dispose();   // completes the client's reader: it sees the connection close
        }
        base.Dispose(disposing);
    }
}

/// <summary>A fixed "now" (UTC) for log stamps and the Received: date; timers stay real.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}

internal sealed class RecordingWriter(QueueId id, Func<QueueId, SmtpReply> commit) : ISmtpMessageWriter
{
    private readonly MemoryStream _content = new();
    public QueueId Id { get; } = id;
    public List<int> WriteSizes { get; } = [];
    public bool Committed { get; private set; }
    public bool Disposed { get; private set; }
    public string Content => Encoding.UTF8.GetString(_content.ToArray());
    public byte[] Bytes => _content.ToArray();

    public ValueTask WriteAsync(ReadOnlyMemory<byte> lines, CancellationToken ct)
    {
        Assert.False(Disposed);
        WriteSizes.Add(lines.Length);
        _content.Write(lines.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask<SmtpReply> CommitAsync(SmtpTransaction tx, CancellationToken ct)
    {
        var reply = commit(Id);
        Committed = reply.IsPositive;
        return ValueTask.FromResult(reply);
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}

/// <summary>Test double of the daemon's sink: relay control on "relay.test", a refused sender
/// "spammer@…", an unknown VRFY user "nobody"; records every writer it hands out.</summary>
internal sealed class RecordingSink : ISmtpTransactionSink
{
    public List<RecordingWriter> Writers { get; } = [];
    public List<string> Senders { get; } = [];
    public Func<QueueId, SmtpReply> Commit { get; set; } = SmtpReplies.Queued;
    /// <summary>The transaction of the last MAIL FROM the sink saw.</summary>
    public SmtpTransaction? LastTransaction { get; private set; }

    public ValueTask<SmtpReply?> CheckSenderAsync(SmtpTransaction tx, CancellationToken ct)
    {
        LastTransaction = tx;
        Senders.Add(tx.Sender.ToString());
        return ValueTask.FromResult<SmtpReply?>(tx.Sender.LocalPart == "spammer"
            ? new SmtpReply(553, "5.7.1", $"<{tx.Sender}>: Sender address rejected: Access denied") : null);
    }

    public ValueTask<SmtpReply?> CheckRecipientAsync(SmtpTransaction tx, SmtpPath recipient, CancellationToken ct) =>
        ValueTask.FromResult<SmtpReply?>(recipient.DomainIs("relay.test")
            ? new SmtpReply(554, "5.7.1", $"<{recipient}>: Relay access denied") : null);

    public ValueTask<SmtpReply> VerifyAsync(SmtpSessionInfo session, SmtpPath address, CancellationToken ct) =>
        ValueTask.FromResult(address.LocalPart == "nobody"
            ? new SmtpReply(550, "5.1.1", $"<{address}>: Recipient address rejected: User unknown in local recipient table")
            : SmtpReplies.VrfyResult(address.ToString()));

    /// <summary>Every notify_classes postmaster notice the session asked for, in order.</summary>
    public List<(SmtpErrorClasses Errors, string Body)> Notices { get; } = [];

    public ValueTask NotifyPostmasterAsync(SmtpSessionInfo session, SmtpErrorClasses errors, string body, CancellationToken ct)
    {
        lock (Notices) Notices.Add((errors, body));
        return ValueTask.CompletedTask;
    }

    public ValueTask<ISmtpMessageWriter> OpenMessageAsync(SmtpTransaction tx, CancellationToken ct)
    {
        var writer = new RecordingWriter(new QueueId($"4D2C1B0A{Writers.Count:X2}"), Commit);
        Writers.Add(writer);
        return ValueTask.FromResult<ISmtpMessageWriter>(writer);
    }
}

/// <summary>Runs one <see cref="SmtpServerSession"/> over an in-memory connection and plays the client.</summary>
internal sealed class SmtpHarness : IAsyncDisposable
{
    public static readonly DateTimeOffset Now = new(2026, 11, 25, 13, 17, 8, TimeSpan.Zero);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new();
    private readonly CancellationTokenSource _shutdown = new();

    public RecordingSink Sink { get; } = new();
    public MemoryLogSink LogSink { get; } = new();
    public DuplexPipeStream ServerStream { get; }
    public Task Session { get; }

    public static SmtpServerOptions DefaultOptions => new()
    {
        Hostname = "mail.example.test",
        Banner = "mail.example.test ESMTP Posthorn",
    };

    private SmtpHarness(SmtpServerOptions options, SessionExtras? extras, string? pregreet)
    {
        ServerStream = new DuplexPipeStream(_toServer.Reader, _toClient.Writer);
        // A client that talks first: its bytes are there before the session starts.
        if (pregreet is not null) _toServer.Writer.WriteAsync(Encoding.UTF8.GetBytes(pregreet)).AsTask().GetAwaiter().GetResult();
        var info = new SmtpSessionInfo { Client = new IPEndPoint(IPAddress.Loopback, 40025), ClientName = "localhost" };
        var clock = new FixedClock(Now);
        var log = new MailLog(LogSink, "postfix", "mail.example.test", clock, pid: 4242);
        var x = extras ?? new SessionExtras();
        var session = new SmtpServerSession(ServerStream, info, options, Sink, log, clock)
        {
            BareNewline = x.BareNewline,
            BareNewlineRejectCode = x.BareNewlineRejectCode,
            PregreetAction = x.PregreetAction,
            PregreetWait = x.PregreetWait,
            PendingInput = x.PendingInput,
        };
        Session = Task.Run(() => session.RunAsync(_shutdown.Token));
    }

    /// <summary>Starts a session and reads the greeting.</summary>
    public static async Task<SmtpHarness> StartAsync(SmtpServerOptions? options = null, SessionExtras? extras = null)
    {
        var h = new SmtpHarness(options ?? DefaultOptions, extras, null);
        Assert.Equal("220 mail.example.test ESMTP Posthorn", await h.ReadReplyAsync());
        return h;
    }

    /// <summary>Starts a session whose client has already sent <paramref name="pregreet"/>; reads nothing.</summary>
    public static SmtpHarness StartTalkingFirst(string pregreet, SessionExtras extras, SmtpServerOptions? options = null) =>
        new(options ?? DefaultOptions, extras, pregreet);

    /// <summary>One client write (the server sees it all at once).</summary>
    public async Task SendAsync(string text) => await SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(byte[] bytes) => await _toServer.Writer.WriteAsync(bytes);

    /// <summary>Sends one command line with CRLF and returns the reply.</summary>
    public async Task<string> CommandAsync(string line)
    {
        await SendAsync(line + "\r\n");
        return await ReadReplyAsync();
    }

    /// <summary>Reads one whole reply; lines of a multi-line reply are joined with LF, CRLF removed.</summary>
    public Task<string> ReadReplyAsync() => SmtpReplyAssembler.ReadAsync(ReadLineAsync);

    private async Task<string?> ReadLineAsync()
    {
        using var cts = new CancellationTokenSource(Patience);
        var reader = _toClient.Reader;
        while (true)
        {
            var result = await reader.ReadAsync(cts.Token);
            var buffer = result.Buffer;
            if (buffer.PositionOf((byte)'\n') is { } lf)
            {
                string line = Encoding.UTF8.GetString(buffer.Slice(0, lf).ToArray());
                reader.AdvanceTo(buffer.GetPosition(1, lf));
                Assert.EndsWith("\r", line);
                return line[..^1];
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted) return null;
        }
    }

    /// <summary>True when the server closed the connection with nothing more to say.</summary>
    public async Task<bool> ServerClosedAsync() => await ReadLineAsync() is null;

    /// <summary>The client goes away without QUIT.</summary>
    public async Task DisconnectAsync() => await _toServer.Writer.CompleteAsync();

    public void Shutdown() => _shutdown.Cancel();

    /// <summary>Waits for RunAsync to return (it must not throw).</summary>
    public async Task FinishAsync() => await Session.WaitAsync(Patience);

    public IReadOnlyList<string> Log => LogSink.Lines;

    public async ValueTask DisposeAsync()
    {
        await _toServer.Writer.CompleteAsync();
        await Session.WaitAsync(Patience);
        _shutdown.Dispose();
    }
}

/// <summary>The session's init-only settings that are not in <see cref="SmtpServerOptions"/>.</summary>
internal sealed record SessionExtras(
    BareNewlineMode BareNewline = BareNewlineMode.Normalize,
    short BareNewlineRejectCode = 550,
    PregreetAction PregreetAction = PregreetAction.Ignore,
    TimeSpan PregreetWait = default,
    Func<int>? PendingInput = null);
