using System.Buffers;
using System.Globalization;
using System.Text;

namespace Posthorn.Lmtp;

/// <summary>Reading commands and DATA: the message is dot-unstuffed and size-checked chunk by chunk
/// into a spool file (STYLE C10), then handed to the agent once per recipient.</summary>
public sealed partial class LmtpServerSession
{
    /// <summary>One command line without its line end (a bare LF is accepted); null at end of input.</summary>
    private async ValueTask<string?> ReadCommandAsync()
    {
        while (true)
        {
            var read = await ReadAsync();
            var buffer = read.Buffer;
            if (buffer.PositionOf((byte)'\n') is { } lf)
            {
                var line = buffer.Slice(0, lf);
                if (line.Length > options.MaxLineLength) throw new LmtpLineTooLongException();
                string text = Encoding.UTF8.GetString(line).TrimEnd('\r');
                _input.AdvanceTo(buffer.GetPosition(1, lf));
                return text;
            }
            // STYLE C7: the limit is checked before buffering more.
            if (buffer.Length > options.MaxLineLength) throw new LmtpLineTooLongException();
            if (read.IsCompleted)
            {
                _input.AdvanceTo(buffer.End);
                return null;
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async ValueTask<System.IO.Pipelines.ReadResult> ReadAsync()
    {
        await FlushPendingAsync();
        _timeout.CancelAfter(options.Timeout);
        var read = await _input.ReadAsync(_ct);
        _timeout.CancelAfter(System.Threading.Timeout.InfiniteTimeSpan);
        return read;
    }

    private async ValueTask DataAsync(string arg)
    {
        if (arg.Length != 0) { await ReplyAsync(LmtpReplies.SyntaxError); return; }
        if (_sender is null) { await ReplyAsync(LmtpReplies.NeedMail); return; }
        // RFC 2033 §4.2: with no successful RCPT, DATA fails with 503.
        if (_recipients.Count == 0) { await ReplyAsync(LmtpReplies.NoValidRecipients); return; }
        string id = options.SessionId + (++_transactions).ToString("X", CultureInfo.InvariantCulture);
        Directory.CreateDirectory(options.SpoolDirectory);
        string spool = Path.Combine(options.SpoolDirectory, "lmtp-" + id);
        await using var file = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete,
            65536, FileOptions.DeleteOnClose);
        var arrival = clock.GetUtcNow();
        // RFC 5321 §4.4: the receiving system adds its Received line at the top.
        string received = $"Received: from {_lhlo} ({options.Client})\r\n\tby {options.Hostname} (Posthorn) with LMTP id {id}"
            + (_recipients.Count == 1 ? $"\r\n\tfor <{_recipients[0]}>" : "")
            + $"; {arrival.ToString("ddd, d MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture)}{arrival.ToString("zzz", CultureInfo.InvariantCulture).Replace(":", "", StringComparison.Ordinal)}\r\n";
        file.Write(Encoding.ASCII.GetBytes(received));
        await ReplyAsync(LmtpReplies.StartData);
        bool tooBig = !await CopyDataAsync(file);
        await file.FlushAsync(_ct);
        var recipients = _recipients.ToList();
        string sender = _sender;
        ResetTransaction();
        // RFC 2033 §4.2: one reply for each recipient accepted at RCPT, in the same order.
        foreach (var rcpt in recipients)
        {
            LmtpReply reply;
            if (tooBig) reply = LmtpReplies.MessageTooBig;
            else
            {
                var delivery = new LmtpDelivery(id, sender, rcpt,
                    () => new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), arrival);
                reply = await agent.DeliverAsync(delivery, _ct);
            }
            await ReplyAsync(reply);
        }
        await FlushPendingAsync();
    }

    /// <summary>Copies the DATA lines up to "." into <paramref name="file"/>, removing the added dots
    /// (RFC 5321 §4.5.2). False when the message passed message_size_limit (the rest is read and dropped).</summary>
    private async ValueTask<bool> CopyDataAsync(FileStream file)
    {
        long size = 0;
        bool lineStart = true, fits = true;
        while (true)
        {
            var read = await ReadAsync();
            var buffer = read.Buffer;
            while (true)
            {
                var lf = buffer.PositionOf((byte)'\n');
                ReadOnlySequence<byte> piece;
                if (lf is { } p)
                {
                    piece = buffer.Slice(0, buffer.GetPosition(1, p));
                }
                else if (buffer.Length > options.MaxLineLength)
                {
                    // A very long line: take it in pieces, never buffering without a cap.
                    piece = buffer.Slice(0, buffer.Length - 1);
                }
                else break;
                if (lineStart && IsEndOfData(piece))
                {
                    _input.AdvanceTo(piece.End);
                    return fits;
                }
                var data = piece;
                if (lineStart && data.FirstSpan[0] == (byte)'.') data = data.Slice(1);
                size += data.Length;
                if (options.MessageSizeLimit > 0 && size > options.MessageSizeLimit) fits = false;
                if (fits)
                    foreach (var segment in data) await file.WriteAsync(segment, _ct);
                lineStart = lf is not null;
                buffer = buffer.Slice(piece.End);
            }
            if (read.IsCompleted) throw new IOException("end of input during DATA");
            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>"." CRLF, or "." LF from a lenient client.</summary>
    private static bool IsEndOfData(ReadOnlySequence<byte> line) =>
        line.Length is 2 or 3 && line.FirstSpan[0] == (byte)'.'
        && (line.Length == 2 ? line.Slice(1).FirstSpan[0] == (byte)'\n' : line.Slice(1, 2).ToArray() is [(byte)'\r', (byte)'\n']);
}
