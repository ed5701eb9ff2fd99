using System.Buffers;
using System.Text;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>DATA: streams the content to the sink's writer (STYLE.md C10), never holding the message.</summary>
public sealed partial class SmtpServerSession
{
    /// <summary>Content goes to <see cref="ISmtpMessageWriter.WriteAsync"/> in chunks of at most this
    /// many bytes, each ending at a line end. A single line longer than this (RFC 5322 §2.1.1 allows
    /// 998 bytes) is the one exception: it arrives in several writes, so memory stays bounded.</summary>
    internal const int DataChunkSize = 64 * 1024;

    private static readonly ReadOnlySequence<byte> LineFeed = new("\n"u8.ToArray());

    private byte[] _chunk = [];
    private int _chunkLength;

    private async ValueTask<bool> DataAsync(ReadOnlyMemory<byte> args)
    {
        // Postfix data_cmd: "With ESMTP command pipelining the client can send DATA before all
        // recipients are rejected, so don't report that as a protocol error."
        if (_tx is not { } tx || tx.Recipients.Count == 0)
        {
            await ReplyAsync(_tx is null ? SmtpReplies.NeedRcpt : SmtpReplies.NoValidRecipients);
            return false;
        }
        if (!args.IsEmpty)
        {
            await ReplyAsync(SmtpReplies.DataSyntax);
            return false;
        }
        // Postfix smtpd.c data_cmd: smtpd_data_restrictions are checked before the 354 reply.
        if (await _sink.CheckDataAsync(tx, _ct) is { IsPositive: false } refused)
        {
            LogReject(refused, tx.Sender, tx.Recipients.Count == 1 ? tx.Recipients[0] : null);
            await ReplyAsync(refused);
            return false;
        }
        var writer = tx.Writer!;
        await ReplyAsync(SmtpReplies.StartData);
        _chunk = ArrayPool<byte>.Shared.Rent(DataChunkSize);
        _chunkLength = 0;
        _dataBytes = 0;
        try
        {
            Append(Encoding.UTF8.GetBytes(ReceivedHeader.Format(_info, _options, tx, writer.Id, _arrival, _clock.LocalTimeZone)));
            var end = await ReadContentAsync(writer);
            if (end == ContentEnd.BareLf)
            {
                await BareLfAsync();   // 521: answered at the first bare LF, and the session ends
                return false;
            }
            if (end == ContentEnd.EndOfInput)
            {
                _reason = "lost connection";
                _hangup = true;
                return false;
            }
            _where = "END-OF-MESSAGE";
            if (end == ContentEnd.BareLfRejected)
            {
                // Postfix 3.9 smtpd_forbid_bare_newline = reject: the message is refused after the end of data;
                // disposing the writer removes the queue file.
                await EndTransactionAsync();
                await BareLfAsync();
                return false;
            }
            if (end == ContentEnd.TooBig)
            {
                // Postfix: keep reading to the dot, then refuse; disposing the writer removes the file.
                _log.SmtpdSizeLimitExceeded(writer.Id);
                await EndTransactionAsync();
                _transcript?.Error(SmtpErrorClasses.Bounce);   // Postfix: "Message size exceeds fixed limit" is a bounce
                await ReplyAsync(SmtpReplies.MessageFileTooBig);
                return false;
            }
            await WriteChunkAsync(writer, _chunkLength);
            if (await EndOfDataRefusedAsync(tx)) return false;
            // DESIGN.md decision 3: the writer answers 250 only once the message is durable.
            var reply = await writer.CommitAsync(tx, _ct);
            await EndTransactionAsync();
            if (!reply.IsPositive) _transcript?.Error(SmtpErrorClasses.Resource);   // the queue file could not be made durable
            if (reply.IsPositive) _errorCount = _junkCommands = 0;   // Postfix: "Forgive any previous client errors".
            await ReplyAsync(reply);
            return reply.IsPositive;
        }
        finally
        {
            ReleaseChunk();
        }
    }

    /// <summary>Postfix smtpd.c data_cmd: once the content is in and before the final reply, smtpd_end_of_data_restrictions
    /// run (smtpd_check_eod). A refusal is logged as <c>ID: reject: END-OF-MESSAGE from …</c>, the transaction ends
    /// (disposing the writer removes the queue file) and the client gets the refusal instead of 250.</summary>
    private async ValueTask<bool> EndOfDataRefusedAsync(SmtpTransaction tx)
    {
        if (await _sink.CheckEndOfDataAsync(tx, _dataBytes, _ct) is not { IsPositive: false } refused)
            return false;
        LogReject(refused, tx.Sender, tx.Recipients.Count == 1 ? tx.Recipients[0] : null);
        await EndTransactionAsync();
        await ReplyAsync(refused);
        return true;
    }

    /// <summary>Returns the content buffer to the pool, once (DATA's end and the end of a transaction both call it).</summary>
    private void ReleaseChunk()
    {
        if (_chunk.Length == 0) return;
        ArrayPool<byte>.Shared.Return(_chunk);
        _chunk = [];
        _chunkLength = 0;
    }

    private enum ContentEnd : byte { Dot, TooBig, EndOfInput, BareLf, BareLfRejected }

    /// <summary>Reads content lines up to the final dot. RFC 5321 §4.5.2: a leading dot is removed
    /// (dot-unstuffing); CRLF becomes LF; the size counts each line plus two (Postfix act_size).</summary>
    private async ValueTask<ContentEnd> ReadContentAsync(ISmtpMessageWriter writer)
    {
        long limit = _options.MessageSizeLimit;
        bool lineStart = true, firstLine = true, previousEndedInCrLf = true, tooBig = false, bareLf = false;
        var mode = BareLfMode;
        while (true)
        {
            if (_buffer.PositionOf((byte)'\n') is { } lf)
            {
                var line = _buffer.Slice(0, lf);
                _buffer = _buffer.Slice(_buffer.GetPosition(1, lf));
                bool crlf = line.Length > 0 && LastByte(line) == (byte)'\r';
                if (!crlf && mode == BareNewlineMode.Reject)
                {
                    if (BareLfDisconnects) return ContentEnd.BareLf;
                    bareLf = true;   // read on to the real end of data, then refuse the message
                }
                if (crlf) line = line.Slice(0, line.Length - 1);
                if (lineStart)
                {
                    // Postfix 3.9 smtpd_forbid_bare_newline = normalize|reject: only <CR><LF>.<CR><LF> ends the
                    // data, so <LF>.<LF>, <LF>.<CR><LF> and <CR>.<CR><LF> never end it early (CVE-2023-51764).
                    // With "no" (smtpd_forbid_bare_newline_exclusions, $mynetworks) a bare LF is a line end
                    // everywhere, so "." typed into nc ends the message.
                    if (line.Length == 1 && line.FirstSpan[0] == (byte)'.' && ((crlf && previousEndedInCrLf) || mode == BareNewlineMode.No))
                        return bareLf ? ContentEnd.BareLfRejected : tooBig ? ContentEnd.TooBig : ContentEnd.Dot;
                    line = StartLine(line, firstLine);
                }
                _dataBytes += line.Length + 2;
                tooBig |= limit > 0 && _dataBytes > limit;
                if (!tooBig)
                {
                    await AppendAsync(writer, line);
                    await AppendAsync(writer, LineFeed);
                }
                lineStart = true;
                firstLine = false;
                previousEndedInCrLf = crlf;
                continue;
            }
            // No line end in the buffer: pass on what is there, so a long line never piles up in memory.
            // Keep back a final CR (it may be half of CRLF) and, at a line start, a "." or ".\r" that may
            // still become the end marker.
            var partial = _buffer;
            if (partial.Length > 0 && LastByte(partial) == (byte)'\r') partial = partial.Slice(0, partial.Length - 1);
            if (lineStart && partial.Length > 0 && partial.FirstSpan[0] == (byte)'.' && _buffer.Length < 3) partial = default;
            if (partial.Length > 0)
            {
                _buffer = _buffer.Slice(partial.Length);
                if (lineStart) partial = StartLine(partial, firstLine);
                lineStart = false;
                _dataBytes += partial.Length;
                tooBig |= limit > 0 && _dataBytes > limit;
                if (!tooBig) await AppendAsync(writer, partial);
            }
            if (!await ReadMoreAsync()) return ContentEnd.EndOfInput;
        }
    }

    /// <summary>The start of a content line: RFC 5321 §4.5.2 removes one leading dot. Postfix
    /// data_cmd: when the content's first line starts with white space, an empty line goes first, so
    /// that it is not read as a continuation of our Received: header.</summary>
    private ReadOnlySequence<byte> StartLine(ReadOnlySequence<byte> line, bool firstLine)
    {
        if (line.Length > 0 && line.FirstSpan[0] == (byte)'.') return line.Slice(1);
        if (firstLine && line.Length > 0 && line.FirstSpan[0] is (byte)' ' or (byte)'\t') Append("\n"u8);
        return line;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_chunk.AsSpan(_chunkLength));   // only the Received: header and one LF come this way
        _chunkLength += bytes.Length;
    }

    private async ValueTask AppendAsync(ISmtpMessageWriter writer, ReadOnlySequence<byte> bytes)
    {
        while (bytes.Length > 0)
        {
            int room = DataChunkSize - _chunkLength;
            if (room == 0)
            {
                // Send the complete lines; carry a partial last line over (unless the chunk is one line).
                int lastLf = _chunk.AsSpan(0, _chunkLength).LastIndexOf((byte)'\n');
                await WriteChunkAsync(writer, lastLf >= 0 ? lastLf + 1 : _chunkLength);
                continue;
            }
            var part = bytes.Slice(0, Math.Min(room, bytes.Length));
            part.CopyTo(_chunk.AsSpan(_chunkLength));
            _chunkLength += (int)part.Length;
            bytes = bytes.Slice(part.Length);
        }
    }

    /// <summary>Writes the first <paramref name="count"/> bytes of the chunk and keeps the rest.</summary>
    private async ValueTask WriteChunkAsync(ISmtpMessageWriter writer, int count)
    {
        if (count == 0) return;
        await writer.WriteAsync(_chunk.AsMemory(0, count), _ct);
        _chunk.AsSpan(count, _chunkLength - count).CopyTo(_chunk);
        _chunkLength -= count;
    }
}
