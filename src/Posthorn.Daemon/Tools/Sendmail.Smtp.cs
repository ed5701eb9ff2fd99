using System.Globalization;
using System.Net;
using System.Text;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Queue;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Tools;

/// <summary><c>sendmail -bs</c>: Postfix sendmail(1) "Stand-alone SMTP server mode. Read SMTP commands from standard
/// input, and write responses to standard output."</summary>
/// <remarks>
/// Postfix runs smtpd(8) on the pipes; its stand-alone smtpd hands each message to postdrop(1), so the mail goes
/// maildrop → pickup(8) → cleanup(8) like any other local submission. Posthorn does the same: the session is the
/// daemon's own SMTP engine (<see cref="SmtpServerSession"/>, same parser, limits and replies), and its sink
/// writes each message into maildrop with the invoking user's uid, as <c>sendmail</c> without -bs does. That keeps
/// the design's one path for local submissions (DESIGN.md: sendmail → maildrop → pickup) and needs no daemon
/// privileges: an ordinary user can use it, and pickup treats the file as untrusted local input.
/// Postfix smtpd(8), stand-alone mode: the client is <c>localhost[127.0.0.1]</c>; "mail relaying and other access
/// controls are disabled by default", so every syntactically valid recipient is accepted. TLS and AUTH are not
/// offered (there is no network to protect). smtpd's parameters (message_size_limit, smtpd_timeout,
/// smtpd_recipient_limit, smtpd_banner …) apply as in the daemon.
/// DEVIATION: "To enable them [the access controls], run the process as the mail_owner user" is not implemented:
/// stand-alone sessions never evaluate smtpd_*_restrictions.
/// </remarks>
public static partial class Sendmail
{
    private static async Task<int> StandAloneSmtpAsync(ToolContext ctx, ConfigSnapshot cfg)
    {
        using var logs = LogFactory.Open(cfg, preferStderr: false);
        var options = Settings.SmtpdOptions(cfg);
        var info = new SmtpSessionInfo
        {
            Client = new IPEndPoint(IPAddress.Loopback, 0),
            ClientName = "localhost",
            ServiceName = "sendmail",
        };
        string queue = cfg.Get("queue_directory");
        var sink = new MaildropSink(new QueueDirectory(queue), ctx.Clock, logs.Log);
        await using var stdin = ctx.OpenStdin();
        var stdio = new StdioStream(stdin, ctx.Out);
        await new SmtpServerSession(stdio, info, options, sink, logs.Log, ctx.Clock).RunAsync(CancellationToken.None);
        if (sink.Queued > 0) await WakePickupAsync(queue);
        return 0;
    }

    /// <summary>The stand-alone session's sink: no access controls, each message into maildrop (Postfix postdrop).</summary>
    private sealed class MaildropSink(QueueDirectory queue, TimeProvider clock, MailLog log) : ISmtpTransactionSink
    {
        private readonly QueueIdGenerator _ids = new(clock);

        public int Queued { get; private set; }

        public ValueTask<SmtpReply?> CheckSenderAsync(SmtpTransaction tx, CancellationToken ct) => ValueTask.FromResult<SmtpReply?>(null);

        public ValueTask<SmtpReply?> CheckRecipientAsync(SmtpTransaction tx, SmtpPath recipient, CancellationToken ct) =>
            ValueTask.FromResult<SmtpReply?>(null);

        public ValueTask<SmtpReply> VerifyAsync(SmtpSessionInfo session, SmtpPath address, CancellationToken ct) =>
            ValueTask.FromResult(SmtpReplies.VrfyResult(address.ToString()));

        public ValueTask<ISmtpMessageWriter> OpenMessageAsync(SmtpTransaction tx, CancellationToken ct)
        {
            var id = _ids.Next();
            return ValueTask.FromResult<ISmtpMessageWriter>(new Writer(this, id, QueueFileWriter.Create(queue, id, QueueName.Maildrop)));
        }

        private sealed class Writer(MaildropSink sink, QueueId id, QueueFileWriter file) : ISmtpMessageWriter
        {
            public QueueId Id => id;

            public ValueTask WriteAsync(ReadOnlyMemory<byte> lines, CancellationToken ct) => file.WriteAsync(lines, ct);

            public async ValueTask<SmtpReply> CommitAsync(SmtpTransaction tx, CancellationToken ct)
            {
                // As sendmail's maildrop file: the local rewriting context and the submitter's uid (pickup logs it);
                // RFC 3461 RET, ENVID, NOTIFY and ORCPT travel with the message as smtpd would keep them.
                var attributes = new Dictionary<string, string>
                {
                    [QueueEnvelope.RewriteContextAttribute] = "local",
                    [QueueEnvelope.UidAttribute] = UnixUser.RealUserId().ToString(CultureInfo.InvariantCulture),
                };
                if (tx.DsnEnvelopeId is { } envid) attributes[QueueEnvelope.DsnEnvelopeIdAttribute] = envid;
                if (tx.SmtpUtf8) attributes[QueueEnvelope.SmtpUtf8Attribute] = "yes";
                if (tx.DsnReturn != DsnReturn.Unspecified)
                    attributes[QueueEnvelope.DsnReturnAttribute] = tx.DsnReturn == DsnReturn.Headers ? "HDRS" : "FULL";
                var recipients = tx.Recipients.Select((r, i) =>
                {
                    var dsn = i < tx.RecipientDsn.Count ? tx.RecipientDsn[i] : SmtpRecipientDsn.None;
                    return new QueueRecipient(r.ToString(), Notify: (DsnNotifyFlags)(byte)dsn.Notify, DsnOriginalRecipient: dsn.OriginalRecipient);
                }).ToList();
                try
                {
                    await file.CommitAsync(new QueueEnvelope(tx.Sender, recipients, sink.Clock.GetUtcNow(), attributes), ct);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // C5: our failure is a 4xx (Postfix: "451 4.3.0 Error: queue file write error").
                    sink.Log.Warning("smtpd", $"{id}: queue file write error: {e.Message}");
                    return SmtpReplies.QueueFileWriteError;
                }
                sink.Queued++;
                return SmtpReplies.Queued(id);
            }

            public ValueTask DisposeAsync() => file.DisposeAsync();
        }

        private TimeProvider Clock => clock;
        private MailLog Log => log;
    }

    /// <summary>The session's connection: reads standard input, writes replies to standard output (the tool's
    /// writer, so tests can capture it). Replies are ASCII or UTF-8 text; a decoder keeps split sequences whole.</summary>
    private sealed class StdioStream(Stream input, TextWriter output) : Stream
    {
        private readonly Decoder _decoder = new UTF8Encoding(false).GetDecoder();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Flush() => output.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            input.ReadAsync(buffer, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            var chars = new char[_decoder.GetCharCount(buffer, flush: false)];
            int n = _decoder.GetChars(buffer, chars, flush: false);
            output.Write(chars, 0, n);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) output.Flush();
            base.Dispose(disposing);
        }
    }
}
