using System.Buffers;

namespace Posthorn.Mail.Outbound;

/// <summary>RFC 3030 CHUNKING: the content in counted BDAT chunks (posthorn_smtp_use_bdat).</summary>
/// <remarks>DEVIATION: Postfix's smtp(8) never sends BDAT; Posthorn does when posthorn_smtp_use_bdat = yes and the
/// server offers CHUNKING. The content goes as it is queued, with LF turned into CRLF (RFC 3030 §2: BDAT data is not
/// dot-stuffed and has no end marker). BINARYMIME is not used. Each chunk but the last waits for its reply (RFC 3030
/// §4.2 allows pipelining them; Posthorn keeps one chunk of at most about 128 KB in flight).</remarks>
public sealed partial class SmtpTransport
{
    private const int BdatBlock = 64 * 1024;

    /// <summary>Sends the content as BDAT chunks, the last one marked LAST.</summary>
    /// <returns>false when the server refused a chunk before LAST (the accepted recipients got that reply).</returns>
    private async Task<bool> SendBdatAsync(SmtpConnection conn, OutboundMessage message, List<int> accepted, DeliveryState state, CancellationToken ct)
    {
        var current = ArrayPool<byte>.Shared.Rent(BdatBlock);
        var next = ArrayPool<byte>.Shared.Rent(BdatBlock);
        var chunk = new ArrayBufferWriter<byte>(BdatBlock * 2 + 2);
        var encoder = new CrlfEncoder();
        try
        {
            await using var content = message.OpenContent();
            int n = await content.ReadAsync(current.AsMemory(0, BdatBlock), ct).ConfigureAwait(false);
            while (true)
            {
                // Read one block ahead: only then is it known whether this chunk is the last.
                int m = n > 0 ? await content.ReadAsync(next.AsMemory(0, BdatBlock), ct).ConfigureAwait(false) : 0;
                bool last = m == 0;
                chunk.ResetWrittenCount();
                encoder.Encode(current.AsSpan(0, n), chunk, finish: last);
                conn.Write(last ? $"BDAT {chunk.WrittenCount} LAST" : $"BDAT {chunk.WrittenCount}");
                conn.Writer.Write(chunk.WrittenSpan);
                await conn.FlushAsync(options.DataXferTimeout, "sending message body", ct).ConfigureAwait(false);
                if (last) return true;
                var reply = await conn.ReadReplyAsync(options.DataXferTimeout, "sending message body", ct).ConfigureAwait(false);
                if (!reply.IsPositive)
                {
                    Reject(state, accepted, reply, conn.Server, "BDAT");
                    return false;
                }
                (current, next) = (next, current);
                n = m;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(current);
            ArrayPool<byte>.Shared.Return(next);
        }
    }

    /// <summary>LF to CRLF across block boundaries (a CR already before the LF is kept), and a final CRLF when the
    /// content does not end with a line end (RFC 5321 §2.3.8).</summary>
    private struct CrlfEncoder
    {
        private bool _lastWasCr;
        private bool _midLine;

        public void Encode(ReadOnlySpan<byte> input, IBufferWriter<byte> output, bool finish)
        {
            while (!input.IsEmpty)
            {
                int lf = input.IndexOf((byte)'\n');
                if (lf < 0)
                {
                    output.Write(input);
                    _lastWasCr = input[^1] == (byte)'\r';
                    _midLine = true;
                    break;
                }
                var line = input[..lf];
                output.Write(line);
                bool hasCr = line.IsEmpty ? _lastWasCr && _midLine : line[^1] == (byte)'\r';
                output.Write(hasCr ? "\n"u8 : "\r\n"u8);
                _midLine = false;
                _lastWasCr = false;
                input = input[(lf + 1)..];
            }
            if (finish && _midLine) output.Write(_lastWasCr ? "\n"u8 : "\r\n"u8);
        }
    }
}
