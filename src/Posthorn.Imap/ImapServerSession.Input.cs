using System.Buffers;

namespace Posthorn.Imap;

/// <summary>Reading commands: lines bounded by imapd_max_line_length, literals by imapd_max_literal_size,
/// assembled into one buffer for <see cref="ImapCommandParser"/>.</summary>
public sealed partial class ImapServerSession
{
    /// <summary>Reads one line without its CRLF (a bare LF is accepted too); null at end of input.</summary>
    private async ValueTask<byte[]?> ReadLineAsync()
    {
        while (true)
        {
            _timeout.CancelAfter(_options.Timeout);
            var read = await _input.ReadAsync(_ct);
            var buffer = read.Buffer;
            if (buffer.PositionOf((byte)'\n') is { } lf)
            {
                var line = buffer.Slice(0, lf);
                if (line.Length > _options.MaxLineLength) throw new LineTooLongException();
                byte[] bytes = line.ToArray();
                _bytesIn += bytes.Length + 1;
                _input.AdvanceTo(buffer.GetPosition(1, lf));
                return bytes.Length > 0 && bytes[^1] == (byte)'\r' ? bytes[..^1] : bytes;
            }
            // RFC 9051 §4: limits are the server's to choose; check before buffering more (STYLE C7).
            if (buffer.Length > _options.MaxLineLength) throw new LineTooLongException();
            if (read.IsCompleted)
            {
                _input.AdvanceTo(buffer.End);
                return null;
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads a whole command with its literals. Null at end of input; an empty array when the
    /// command was already answered (a refused literal).</summary>
    private async ValueTask<byte[]?> ReadCommandAsync()
    {
        var command = new ArrayBufferWriter<byte>();
        long total = 0;
        while (true)
        {
            var line = await ReadLineAsync();
            if (line is null) return null;
            command.Write(line);
            command.Write("\r\n"u8);
            if (!ImapCommandParser.TryGetLiteralAtEnd(line, out long size, out bool nonSync)) return command.WrittenSpan.ToArray();
            total += size;
            if (size > _options.MaxLiteralSize || total > _options.MaxLiteralSize)
            {
                string tag = TagOf(command.WrittenSpan);
                if (nonSync)
                {
                    // RFC 7888 §4: the data is already on its way; the only safe answer is to close.
                    _w.Ascii($"* BYE [TOOBIG] Literal of {size} octets is larger than {_options.MaxLiteralSize}.").Crlf();
                    _logout = true;
                    await FlushAsync();
                    return null;
                }
                // RFC 7889 §4 / RFC 9051 §7.1: refuse before the client sends the octets.
                _w.Ascii($"{tag} NO [TOOBIG] Literal of {size} octets is larger than {_options.MaxLiteralSize}.").Crlf();
                await FlushAsync();
                return [];
            }
            if (!nonSync)
            {
                _w.Raw("+ OK"u8).Crlf();
                await FlushAsync();
            }
            await ReadExactlyAsync(command, size);
        }
    }

    private static string TagOf(ReadOnlySpan<byte> command)
    {
        int sp = command.IndexOfAny((byte)' ', (byte)'\r');
        return sp > 0 ? System.Text.Encoding.ASCII.GetString(command[..sp]) : "*";
    }

    private async ValueTask ReadExactlyAsync(ArrayBufferWriter<byte> into, long count)
    {
        while (count > 0)
        {
            _timeout.CancelAfter(_options.Timeout);
            var read = await _input.ReadAsync(_ct);
            var buffer = read.Buffer;
            long take = Math.Min(count, buffer.Length);
            foreach (var segment in buffer.Slice(0, take)) into.Write(segment.Span);
            count -= take;
            _bytesIn += take;
            _input.AdvanceTo(buffer.GetPosition(take));
            if (count > 0 && read.IsCompleted) throw new IOException("end of input inside a literal");
        }
    }
}
