using System.Net;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Smtp;

namespace Posthorn.Fuzz;

/// <summary>The smtpd(8) session engine, fed the fuzz input as everything one client sends.</summary>
public sealed partial class FuzzTargets
{
    private const string FuzzClient = "localhost[127.0.0.1]";

    /// <summary>Runs one whole <see cref="SmtpServerSession"/>: the input is the client's byte stream, then end of
    /// input. The session never throws for client input; it logs <c>warning: client: XxxException: …</c> and answers
    /// 421 when one of its own paths fails, so that log line is the finding. No error sleep: the soft error limit
    /// is out of reach, the hard one is kept.</summary>
    private static void SmtpSession(byte[] data)
    {
        var options = new SmtpServerOptions
        {
            Hostname = "mail.example.test",
            Banner = "mail.example.test ESMTP Posthorn",
            SoftErrorLimit = int.MaxValue,
            HardErrorLimit = 100,
            MessageSizeLimit = 4096,
            LineLengthLimit = 512,
            SaslAuthEnable = true,
            Authenticator = new FuzzAuthenticator(),
        };
        var info = new SmtpSessionInfo { Client = new IPEndPoint(IPAddress.Loopback, 40025), ClientName = "localhost" };
        var sink = new FailureLogSink();
        var log = new MailLog(sink, "postfix", "mail.example.test", TimeProvider.System, pid: 4242);
        var session = new SmtpServerSession(new FuzzConnection(data), info, options, new AcceptingSink(), log, TimeProvider.System);
        session.RunAsync(CancellationToken.None).GetAwaiter().GetResult();
        if (sink.Failure is { } failure) throw new InvalidOperationException("smtpd session failed: " + failure);
    }

    /// <summary>Keeps the first "session failed" line: <c>warning: name[addr]: TypeNameException: message</c>.</summary>
    private sealed class FailureLogSink : IMailLogSink
    {
        public string? Failure { get; private set; }

        public void Write(in MailLogEntry entry)
        {
            const string Prefix = "warning: " + FuzzClient + ": ";
            if (Failure is not null || !entry.Text.StartsWith(Prefix, StringComparison.Ordinal)) return;
            string rest = entry.Text[Prefix.Length..];
            int colon = rest.IndexOf(':');
            if (colon > 0 && rest[..colon].EndsWith("Exception", StringComparison.Ordinal) && !rest[..colon].Contains(' '))
                Failure = rest;
        }
    }

    /// <summary>The client's side: reads give the input (then end of file), writes are dropped.</summary>
    private sealed class FuzzConnection(byte[] input) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, input.Length - _position);
            input.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => Task.FromResult(Read(buffer, offset, count));

        public override void Write(byte[] buffer, int offset, int count) { }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) => ValueTask.CompletedTask;

        public override void Flush() { }

        public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>A sink that takes every sender and recipient and drops the content.</summary>
    private sealed class AcceptingSink : ISmtpTransactionSink
    {
        private int _messages;

        public ValueTask<SmtpReply?> CheckSenderAsync(SmtpTransaction tx, CancellationToken ct) => ValueTask.FromResult<SmtpReply?>(null);

        public ValueTask<SmtpReply?> CheckRecipientAsync(SmtpTransaction tx, SmtpPath recipient, CancellationToken ct) =>
            ValueTask.FromResult<SmtpReply?>(null);

        public ValueTask<SmtpReply> VerifyAsync(SmtpSessionInfo session, SmtpPath address, CancellationToken ct) =>
            ValueTask.FromResult(SmtpReplies.VrfyResult(address.ToString()));

        public ValueTask<ISmtpMessageWriter> OpenMessageAsync(SmtpTransaction tx, CancellationToken ct) =>
            ValueTask.FromResult<ISmtpMessageWriter>(new DiscardWriter(new QueueId($"4D2C1B0A{++_messages % 256:X2}")));
    }

    private sealed class DiscardWriter(QueueId id) : ISmtpMessageWriter
    {
        public QueueId Id { get; } = id;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> lines, CancellationToken ct) => ValueTask.CompletedTask;

        public ValueTask<SmtpReply> CommitAsync(SmtpTransaction tx, CancellationToken ct) => ValueTask.FromResult(SmtpReplies.Queued(Id));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>One user, "user" with password "secret", for PLAIN, LOGIN and CRAM-MD5.</summary>
    private sealed class FuzzAuthenticator : ISmtpSecretAuthenticator
    {
        public bool HasPlaintextSecrets => true;

        public ValueTask<SmtpAuthResult> AuthenticateAsync(string user, string password, CancellationToken ct) =>
            ValueTask.FromResult(user == "user" && password == "secret" ? SmtpAuthResult.Success : SmtpAuthResult.Failure);

        public ValueTask<(SmtpAuthResult Result, string? Secret)> GetSecretAsync(string user, CancellationToken ct) =>
            ValueTask.FromResult(user == "user" ? (SmtpAuthResult.Success, (string?)"secret") : (SmtpAuthResult.Failure, null));
    }
}
