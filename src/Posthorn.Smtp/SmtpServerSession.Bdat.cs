using System.Buffers;
using System.Buffers.Text;
using System.Text;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>BDAT (RFC 3030 CHUNKING): the content in counted chunks, with no dot-stuffing and no end marker.</summary>
/// <remarks>
/// <code>RFC 3030 §3: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF;  end-marker = "LAST"</code>
/// A chunk is read whole whatever happens (RFC 3030 §2: the server "MUST be prepared to accept and
/// discard additional BDAT chunks already in the pipeline after the failed BDAT"), so the session never
/// parses message bytes as commands. The bytes go to the same writer as DATA's, CRLF reduced to LF as the
/// writer expects; any other byte, NUL included, passes untouched. BINARYMIME is not offered: the queue
/// file keeps LF-terminated lines, so a body with bare CR or LF bytes could not come out unchanged.
/// </remarks>
public sealed partial class SmtpServerSession
{
    /// <summary>The BDAT state of the current transaction; null until its first BDAT command.</summary>
    private BdatState? _bdat;

    private static readonly ReadOnlySequence<byte> CarriageReturn = new("\r"u8.ToArray());

    private sealed class BdatState
    {
        /// <summary>Chunk bytes accepted so far (Postfix compares these with message_size_limit).</summary>
        public long Bytes;
        /// <summary>The previous chunk piece ended in CR: a LF first in the next one makes a CRLF.</summary>
        public bool PendingCr;
        public bool LineStart = true;
        public bool FirstLine = true;
        /// <summary>Set when a chunk failed: every further chunk of the transaction is read, discarded and
        /// answered with this reply (RFC 3030 §2), until RSET or the LAST chunk.</summary>
        public SmtpReply? Error;
        /// <summary>smtpd_forbid_bare_newline = reject (code other than 521): a bare LF was seen; the LAST chunk refuses the message.</summary>
        public bool BareLf;
    }

    private bool ChunkingOffered => !_options.DiscardEhloKeywords.Contains("chunking");

    private async ValueTask<bool> BdatAsync(ReadOnlyMemory<byte> args)
    {
        if (!TryParseBdat(args.Span, out long size, out bool last, out bool countKnown))
        {
            if (!countKnown)
            {
                // Postfix: without a count the end of the chunk is unknown, so the rest cannot be read as commands.
                _reason = "malformed BDAT command";
                await ReplyAsync(SmtpReplies.BdatSyntaxHangup);
                return false;
            }
            return await SkipChunkAsync(size, SmtpReplies.BdatSyntax, last);
        }
        if (!ChunkingOffered) return await SkipChunkAsync(size, SmtpReplies.CommandNotImplemented, last);
        // Postfix bdat_cmd: a zero-size chunk that is not the last one is refused.
        if (size == 0 && !last) return await SkipChunkAsync(size, SmtpReplies.NullBdatRequest, last);
        if (_bdat?.Error is { } earlier) return await SkipChunkAsync(size, earlier, last);
        if (_tx is not { } tx || tx.Recipients.Count == 0)
        {
            // As for DATA (Postfix data_cmd wording): 503 without MAIL, 554 when every recipient was refused.
            var reply = _tx is null ? SmtpReplies.NeedRcpt : SmtpReplies.NoValidRecipients;
            _bdat = new BdatState { Error = reply };
            return await SkipChunkAsync(size, reply, last);
        }
        if (_bdat is null)
        {
            // Postfix: smtpd_data_restrictions apply to the first chunk as they do to DATA.
            if (await _sink.CheckDataAsync(tx, _ct) is { IsPositive: false } refused)
            {
                LogReject(refused, tx.Sender, tx.Recipients.Count == 1 ? tx.Recipients[0] : null);
                _bdat = new BdatState { Error = refused };
                return await SkipChunkAsync(size, refused, last);
            }
            _bdat = new BdatState();
            _dataBytes = 0;
            _chunk = ArrayPool<byte>.Shared.Rent(DataChunkSize);
            _chunkLength = 0;
            Append(Encoding.UTF8.GetBytes(ReceivedHeader.Format(_info, _options, tx, tx.Writer!.Id, _arrival, _clock.LocalTimeZone)));
        }
        var state = _bdat;
        var writer = tx.Writer!;
        // RFC 1870 / Postfix bdat_cmd: a chunk that would take the message over message_size_limit is refused
        // before it is read (and read only to be discarded); the queue file goes at once.
        if (_options.MessageSizeLimit > 0 && size > _options.MessageSizeLimit - state.Bytes)
        {
            _log.SmtpdSizeLimitExceeded(writer.Id);
            state.Error = SmtpReplies.ChunkExceedsSizeLimit;
            tx.Writer = null;
            await writer.DisposeAsync();
            return await SkipChunkAsync(size, SmtpReplies.ChunkExceedsSizeLimit, last);
        }
        long remaining = size;
        while (remaining > 0)
        {
            if (_buffer.Length == 0 && !await ReadMoreAsync())
            {
                _reason = "lost connection";   // Postfix: "lost connection after BDAT (N bytes)"; nothing is queued.
                _hangup = true;
                return false;
            }
            var piece = _buffer.Slice(0, Math.Min(remaining, _buffer.Length));
            _buffer = _buffer.Slice(piece.Length);
            remaining -= piece.Length;
            state.Bytes += piece.Length;
            _dataBytes = state.Bytes;
            if (!await AppendChunkAsync(writer, state, piece))
            {
                await BareLfAsync();
                return false;
            }
        }
        if (!last)
        {
            await ReplyAsync(SmtpReplies.ChunkOk(size));
            return true;
        }
        _where = "END-OF-MESSAGE";
        if (state.BareLf)
        {
            // Postfix 3.9 smtpd_forbid_bare_newline = reject covers BDAT content as well as DATA.
            await EndTransactionAsync();
            await BareLfAsync();
            return false;
        }
        // RFC 3030 §3: the LAST chunk ends the message; a last line without CRLF still ends there.
        if (!state.LineStart || state.PendingCr) await AppendAsync(writer, LineFeed);
        await WriteChunkAsync(writer, _chunkLength);
        if (await EndOfDataRefusedAsync(tx)) return false;
        // DESIGN.md decision 3: as for DATA, 250 only once the message is durable.
        var queued = await writer.CommitAsync(tx, _ct);
        await EndTransactionAsync();
        if (!queued.IsPositive) _transcript?.Error(SmtpErrorClasses.Resource);
        if (queued.IsPositive) _errorCount = _junkCommands = 0;   // as after DATA: errors and junk are forgiven
        await ReplyAsync(queued);
        return queued.IsPositive;
    }

    /// <summary>Parses <c>count [LAST]</c>. <paramref name="countKnown"/> tells whether the chunk size
    /// could be read, so that a command that fails only on its end marker still has its chunk skipped.</summary>
    internal static bool TryParseBdat(ReadOnlySpan<byte> args, out long size, out bool last, out bool countKnown)
    {
        size = 0;
        last = false;
        int space = args.IndexOfAny((byte)' ', (byte)'\t');
        var count = space < 0 ? args : args[..space];
        // RFC 3030 §3 chunk-size = 1*DIGIT; Postfix alldig() and off_cvt_string (no sign, no overflow).
        countKnown = count.Length is > 0 and <= 18 && count.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0
            && Utf8Parser.TryParse(count, out size, out int used) && used == count.Length;
        if (!countKnown) return false;
        if (space < 0) return true;
        var rest = args[(space + 1)..].TrimStart(" \t"u8);
        last = Ascii.EqualsIgnoreCase(rest, "LAST"u8);
        return last;
    }

    /// <summary>Reads and discards one chunk, then sends <paramref name="reply"/>. After the LAST chunk the
    /// failed transaction is over (a new MAIL may follow).</summary>
    private async ValueTask<bool> SkipChunkAsync(long size, SmtpReply reply, bool last)
    {
        long remaining = size;
        while (remaining > 0)
        {
            if (_buffer.Length == 0 && !await ReadMoreAsync())
            {
                _reason = "lost connection";
                _hangup = true;
                return false;
            }
            long n = Math.Min(remaining, _buffer.Length);
            _buffer = _buffer.Slice(n);
            remaining -= n;
        }
        if (last) await EndTransactionAsync();
        await ReplyAsync(reply);
        return false;
    }

    /// <summary>Hands chunk bytes to the writer: CRLF becomes LF (also across chunk boundaries), other bytes
    /// pass; Postfix data_cmd's empty line before a first line that starts with white space.</summary>
    /// <returns>False for a bare LF under smtpd_forbid_bare_newline = reject with a 521 code.</returns>
    private async ValueTask<bool> AppendChunkAsync(ISmtpMessageWriter writer, BdatState s, ReadOnlySequence<byte> piece)
    {
        while (piece.Length > 0)
        {
            bool lineEnd = false, crlf = false;
            if (s.PendingCr)
            {
                s.PendingCr = false;
                if (piece.FirstSpan[0] == (byte)'\n')
                {
                    piece = piece.Slice(1);
                    await EndChunkLineAsync(writer, s);
                    continue;
                }
                await AppendChunkTextAsync(writer, s, CarriageReturn);   // a CR alone is data
            }
            var segment = piece;
            if (piece.PositionOf((byte)'\n') is { } lf)
            {
                segment = piece.Slice(0, lf);
                piece = piece.Slice(piece.GetPosition(1, lf));
                lineEnd = true;
            }
            else piece = default;
            if (segment.Length > 0 && LastByte(segment) == (byte)'\r')
            {
                segment = segment.Slice(0, segment.Length - 1);
                if (lineEnd) crlf = true;
                else s.PendingCr = true;
            }
            // Postfix smtpd_forbid_bare_newline covers BDAT content as well as DATA: normalize and no take a bare
            // LF as a line end; reject refuses the message (at once with 521, after the LAST chunk otherwise).
            if (lineEnd && !crlf && BareLfMode == BareNewlineMode.Reject)
            {
                if (BareLfDisconnects) return false;
                s.BareLf = true;
            }
            await AppendChunkTextAsync(writer, s, segment);
            if (lineEnd) await EndChunkLineAsync(writer, s);
        }
        return true;
    }

    private async ValueTask AppendChunkTextAsync(ISmtpMessageWriter writer, BdatState s, ReadOnlySequence<byte> text)
    {
        if (text.Length == 0) return;
        if (s.LineStart && s.FirstLine && text.FirstSpan[0] is (byte)' ' or (byte)'\t') await AppendAsync(writer, LineFeed);
        s.LineStart = false;
        s.FirstLine = false;
        await AppendAsync(writer, text);
    }

    private async ValueTask EndChunkLineAsync(ISmtpMessageWriter writer, BdatState s)
    {
        await AppendAsync(writer, LineFeed);
        s.LineStart = true;
        s.FirstLine = false;
    }
}
