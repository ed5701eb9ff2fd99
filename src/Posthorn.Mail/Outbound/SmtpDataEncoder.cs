using System.Buffers;

namespace Posthorn.Mail.Outbound;

/// <summary>Turns queued content (LF line ends) into the DATA stream: CRLF line ends and
/// dot-stuffing, chunk by chunk, never holding the message (STYLE C10).</summary>
/// <remarks>RFC 5321 §4.5.2: before sending a line of mail text, a line that starts with a period
/// gets one more period. RFC 5321 §2.3.8: lines end in CRLF; a CR already before the LF is kept
/// as the CR of that CRLF. The end is CRLF "." CRLF, with a CRLF first when the content did not
/// end with a line end.</remarks>
internal struct SmtpDataEncoder
{
    private bool _midLine;
    private bool _lastWasCr;

    public void Encode(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        while (!input.IsEmpty)
        {
            if (!_midLine && input[0] == (byte)'.')
                Put(output, "."u8);
            int lf = input.IndexOf((byte)'\n');
            if (lf < 0)
            {
                Put(output, input);
                _lastWasCr = input[^1] == (byte)'\r';
                _midLine = true;
                return;
            }
            var line = input[..lf];
            Put(output, line);
            bool hasCr = line.IsEmpty ? _lastWasCr && _midLine : line[^1] == (byte)'\r';
            Put(output, hasCr ? "\n"u8 : "\r\n"u8);
            _midLine = false;
            _lastWasCr = false;
            input = input[(lf + 1)..];
        }
    }

    /// <summary>Writes the end-of-data marker.</summary>
    public void Finish(IBufferWriter<byte> output)
    {
        if (_midLine) Put(output, _lastWasCr ? "\n"u8 : "\r\n"u8);
        Put(output, ".\r\n"u8);
        _midLine = false;
        _lastWasCr = false;
    }

    private static void Put(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }
}
