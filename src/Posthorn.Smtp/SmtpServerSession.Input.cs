using System.Buffers;

namespace Posthorn.Smtp;

/// <summary>Reading from the client: the pipe buffer, smtpd_timeout, and bounded command lines.</summary>
public sealed partial class SmtpServerSession
{
    private enum LineStatus : byte { Line, EndOfInput, BareLf, TooLong }

    private readonly record struct CommandLine(LineStatus Status, ReadOnlyMemory<byte> Text);

    /// <summary>Bytes read but not yet used; a <see cref="ReadResult"/> is held while this is valid.</summary>
    private ReadOnlySequence<byte> _buffer;
    private bool _holding;
    private bool _inputCompleted;
    private byte[] _lineBuffer = [];

    /// <summary>While a command line is being read: true, and the time by which it must be complete once
    /// the first read of it has begun (null until then).</summary>
    private bool _perRecord;
    private DateTimeOffset? _recordDeadline;

    /// <summary>Waits for more bytes from the client. First hands the used part of the buffer back
    /// (everything else was examined, so the pipe waits for new data), then flushes the replies queued
    /// so far: the client is waiting for them, and this is the end of its pipelined batch (RFC 2920 §3.1).</summary>
    /// <returns>False at the end of input (no new bytes will come).</returns>
    private async ValueTask<bool> ReadMoreAsync()
    {
        long before = _buffer.Length;
        if (_holding)
        {
            _input.AdvanceTo(_buffer.Start, _buffer.End);   // C8: consumed, examined
            _holding = false;
        }
        if (_inputCompleted) return false;
        await FlushAsync();
        _timeout.CancelAfter(ReadTimeLimit());   // Postfix smtpd_timeout (C9)
        var result = await _input.ReadAsync(_ct);
        _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
        _buffer = result.Buffer;
        _holding = true;
        _inputCompleted = result.IsCompleted;
        return _buffer.Length > before || !_inputCompleted;
    }

    /// <summary>smtpd_timeout for this read: per read for message content, but per record for a command line.
    /// DEVIATION: Postfix applies smtpd_timeout per read unless smtpd_per_record_deadline is on (by default only
    /// under stress); Posthorn always gives a whole command line one smtpd_timeout, counted from the first wait
    /// for it, so a client that trickles a byte at a time cannot hold a session for ever.</summary>
    private TimeSpan ReadTimeLimit()
    {
        if (!_perRecord) return _options.Timeout;
        var now = _clock.GetUtcNow();
        _recordDeadline ??= now + _options.Timeout;
        var left = _recordDeadline.Value - now;
        return left > TimeSpan.Zero ? left : TimeSpan.FromTicks(1);
    }

    /// <summary>Reads one command line, CRLF removed. C7: at most line_length_limit bytes are kept;
    /// Postfix smtpd_chat_query() skips the rest of a longer line (to stay in step with the client),
    /// logs "request longer than", and handles what it kept. A <paramref name="sensitive"/> line (an AUTH
    /// response) is never logged: over the limit it is skipped whole and reported as <see cref="LineStatus.TooLong"/>.</summary>
    private async ValueTask<CommandLine> ReadCommandLineAsync(bool sensitive = false)
    {
        _perRecord = true;
        _recordDeadline = null;
        try
        {
            return await ReadCommandLineCoreAsync(sensitive);
        }
        finally
        {
            _perRecord = false;
        }
    }

    private async ValueTask<CommandLine> ReadCommandLineCoreAsync(bool sensitive)
    {
        int limit = Math.Max(_options.LineLengthLimit, 1);
        if (_lineBuffer.Length < limit) _lineBuffer = new byte[limit];
        while (true)
        {
            var lf = _buffer.PositionOf((byte)'\n');
            if (lf is { } end && _buffer.Slice(0, end).Length <= limit + 1)
            {
                var line = _buffer.Slice(0, end);
                _buffer = _buffer.Slice(_buffer.GetPosition(1, end));
                bool crlf = line.Length > 0 && LastByte(line) == (byte)'\r';
                // RFC 5321 §2.3.8: lines end in CRLF. DEVIATION (as Postfix 3.9 smtpd_forbid_bare_newline =
                // normalize or no): a bare LF is accepted as a line end; only "reject" refuses it.
                if (!crlf && !BareLfEndsLine) return new CommandLine(LineStatus.BareLf, default);
                if (crlf) line = line.Slice(0, line.Length - 1);
                if (line.Length <= limit)
                {
                    line.CopyTo(_lineBuffer);
                    return new CommandLine(LineStatus.Line, _lineBuffer.AsMemory(0, (int)line.Length));
                }
                // Exactly one byte over (a lone CR before CRLF): fall through to the overlong path.
            }
            if (lf is not null || _buffer.Length > limit + 1)
                return await ReadOverlongLineAsync(limit, sensitive);
            if (!await ReadMoreAsync()) return new CommandLine(LineStatus.EndOfInput, default);
        }
    }

    private async ValueTask<CommandLine> ReadOverlongLineAsync(int limit, bool sensitive)
    {
        _buffer.Slice(0, limit).CopyTo(_lineBuffer);
        _buffer = _buffer.Slice(limit);
        string start = SmtpCommandParser.Printable(_lineBuffer.AsSpan(0, Math.Min(30, limit)));
        byte previous = _lineBuffer[limit - 1];
        while (true)
        {
            if (_buffer.PositionOf((byte)'\n') is { } lf)
            {
                var skipped = _buffer.Slice(0, lf);
                if (skipped.Length > 0) previous = LastByte(skipped);
                _buffer = _buffer.Slice(_buffer.GetPosition(1, lf));
                if (previous != (byte)'\r' && !BareLfEndsLine) return new CommandLine(LineStatus.BareLf, default);
                break;
            }
            if (_buffer.Length > 0) previous = LastByte(_buffer);
            _buffer = _buffer.Slice(_buffer.End);   // skipped, never buffered: memory stays bounded
            if (!await ReadMoreAsync()) return new CommandLine(LineStatus.EndOfInput, default);
        }
        if (sensitive) return new CommandLine(LineStatus.TooLong, default);
        // C13: an AUTH command's initial response is a credential; only its verb is logged.
        if (start.StartsWith("AUTH ", StringComparison.OrdinalIgnoreCase)) start = start[..4];
        _log.SmtpdRequestTooLong(Client, limit, start);
        int length = limit;
        if (_lineBuffer[length - 1] == (byte)'\r') length--;
        return new CommandLine(LineStatus.Line, _lineBuffer.AsMemory(0, length));
    }

    private static byte LastByte(in ReadOnlySequence<byte> sequence)
    {
        var last = sequence.Slice(sequence.Length - 1);
        return last.FirstSpan[0];
    }
}
