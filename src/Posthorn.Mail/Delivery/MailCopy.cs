using System.Buffers;
using System.Globalization;
using System.Text;
using Posthorn.Core;

namespace Posthorn.Mail.Delivery;

/// <summary>A failed system call during delivery, with its errno (Postfix's %m).</summary>
internal sealed class DeliveryIOException(int errno, string what) : IOException($"{what}: {LibC.StrError(errno)}")
{
    public int Errno { get; } = errno;
    /// <summary>The context without the error text, for messages that put it elsewhere.</summary>
    public string What { get; } = what;
}

/// <summary>Postfix mail_copy(3): copies a queued message into a mailbox file with the
/// delivery headers in front, in mbox or Maildir form.</summary>
/// <remarks>
/// mbox (Postfix local(8) "UNIX-style mailbox"): a <c>From sender  asctime</c> line, then
/// <c>Return-Path:</c>, <c>X-Original-To:</c> and <c>Delivered-To:</c>, the message with every
/// line that starts with "From " quoted as ">From " (the mboxo convention Postfix uses), and an
/// empty line. Maildir files get the three headers only. Lines end in LF; a CRLF from the queue
/// file becomes LF, a bare CR is kept. A message without a final line break gets one.
/// </remarks>
internal static class MailCopy
{
    private const int ChunkSize = 64 * 1024;

    /// <summary>The From_ line: <c>From sender  Tue Nov 25 13:17:08 2026</c> (asctime(3) format,
    /// local time of delivery; the null sender is MAILER-DAEMON, as in Postfix mail_copy.c).</summary>
    public static string FromLine(SmtpPath sender, DateTimeOffset now)
    {
        string who = sender.IsNull ? "MAILER-DAEMON" : sender.ToString();
        string day = now.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2);
        return $"From {who}  {now.ToString("ddd MMM ", CultureInfo.InvariantCulture)}{day}{now.ToString(" HH:mm:ss yyyy", CultureInfo.InvariantCulture)}\n";
    }

    /// <summary>Return-Path, X-Original-To (when known) and Delivered-To (lower case), as Postfix local(8) prepends them.</summary>
    /// <param name="deliveredTo">null leaves Delivered-To out (prepend_delivered_header).</param>
    public static string DeliveryHeaders(SmtpPath sender, string? originalRecipient, string? deliveredTo)
    {
        var sb = new StringBuilder();
        sb.Append("Return-Path: <").Append(sender.ToString()).Append(">\n");
        if (!string.IsNullOrEmpty(originalRecipient)) sb.Append("X-Original-To: ").Append(originalRecipient).Append('\n');
        if (deliveredTo is not null) sb.Append("Delivered-To: ").Append(deliveredTo.ToLowerInvariant()).Append('\n');
        return sb.ToString();
    }

    /// <summary>Writes prefix + content (line ends converted, no quoting, no empty line added) to
    /// a pipe, as Postfix feeds a |command.</summary>
    /// <exception cref="IOException">the pipe was closed or the content could not be read.</exception>
    public static long WriteTo(Stream output, string prefix, Stream content) =>
        Copy(new ChunkWriter(-1, 0, 0, output), prefix, content, mbox: false, blank: false);

    /// <summary>As <see cref="WriteTo(Stream, string, Stream)"/>, with pipe(8)'s content flags: <paramref name="quoteFrom"/>
    /// (<c>&gt;</c>: "From " lines get a &gt;), <paramref name="dot"/> (<c>.</c>: lines starting with "." get another)
    /// and <paramref name="blank"/> (<c>B</c>: an empty line at the end).</summary>
    public static long WriteTo(Stream output, string prefix, Stream content, bool quoteFrom, bool dot, bool blank) =>
        Copy(new ChunkWriter(-1, 0, 0, output), prefix, content, quoteFrom, blank, dot);

    /// <summary>Writes prefix + converted content at <paramref name="offset"/> of <paramref name="fd"/>.</summary>
    /// <param name="limit">mailbox_size_limit: the file may not grow past it (0 = none); over the
    /// limit the copy fails with EFBIG, as Postfix's RLIMIT_FSIZE makes write(2) fail.</param>
    /// <returns>The number of bytes written.</returns>
    /// <exception cref="DeliveryIOException">a write failed; the caller truncates to <paramref name="offset"/>.</exception>
    public static long Write(int fd, long offset, long limit, string prefix, Stream content, bool mbox) =>
        Copy(new ChunkWriter(fd, offset, limit, null), prefix, content, mbox, blank: mbox);

    private static long Copy(ChunkWriter output, string prefix, Stream content, bool mbox, bool blank, bool dot = false)
    {
        byte[] input = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            output.Append(Encoding.UTF8.GetBytes(prefix));
            var fromPrefix = new byte[5];
            int held = 0;          // bytes of a possible "From " held at the start of a line
            bool lineStart = true, pendingCr = false, lastWasLf = true;
            int n;
            while ((n = content.Read(input, 0, ChunkSize)) > 0)
            {
                int i = 0;
                while (i < n)
                {
                    byte b = input[i];
                    if (pendingCr)
                    {
                        pendingCr = false;
                        if (b != (byte)'\n') Emit((byte)'\r');
                    }
                    if (b == (byte)'\r') { pendingCr = true; i++; continue; }
                    if (lineStart)
                    {
                        Emit(b);
                        i++;
                        continue;
                    }
                    // Inside a line nothing is quoted: the bytes up to the next CR or LF go out as they are.
                    var run = input.AsSpan(i, n - i);
                    int k = run.IndexOfAny((byte)'\r', (byte)'\n');
                    if (k == 0)
                    {
                        Emit(b);
                        i++;
                        continue;
                    }
                    if (k < 0) k = run.Length;
                    output.Append(run[..k]);
                    lastWasLf = false;
                    i += k;
                }
            }
            if (pendingCr) Emit((byte)'\r');
            if (held > 0) { output.Append(fromPrefix.AsSpan(0, held)); held = 0; lastWasLf = false; }
            if (!lastWasLf) output.Append("\n"u8);
            if (blank) output.Append("\n"u8); // Postfix MAIL_COPY_BLANK: the empty line that ends an mbox message
            output.Flush();
            return output.Written;

            void Emit(byte b)
            {
                // Postfix MAIL_COPY_DOT (pipe(8) flag "."): "Prepend "." to lines starting with ".".
                if (dot && lineStart && held == 0 && b == (byte)'.') output.Append("."u8);
                if (mbox && lineStart)
                {
                    // RFC 4155 §2 / Postfix mail_copy.c: quote a "From " at the start of a line.
                    if (b == "From "u8[held])
                    {
                        fromPrefix[held++] = b;
                        if (held < 5) return;
                        output.Append(">From "u8);
                        held = 0;
                        lineStart = false;
                        lastWasLf = false;
                        return;
                    }
                    if (held > 0) { output.Append(fromPrefix.AsSpan(0, held)); held = 0; }
                }
                output.Append(b);
                lineStart = b == (byte)'\n';
                lastWasLf = lineStart;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
            output.Release();
        }
    }

    /// <summary>Buffers output and writes it with pwrite(2) (or to <c>stream</c> when given), enforcing the size limit.</summary>
    private sealed class ChunkWriter(int fd, long offset, long limit, Stream? stream)
    {
        private byte[] _buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        private int _used;

        public long Written { get; private set; }

        public void Append(byte b)
        {
            if (_used == _buffer.Length) Flush();
            _buffer[_used++] = b;
        }

        public void Append(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                if (_used == _buffer.Length) Flush();
                int k = Math.Min(bytes.Length, _buffer.Length - _used);
                bytes[..k].CopyTo(_buffer.AsSpan(_used));
                _used += k;
                bytes = bytes[k..];
            }
        }

        /// <summary>Gives the buffer back to the pool; the writer is not used afterwards.</summary>
        public void Release()
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            _used = 0;
        }

        public void Flush()
        {
            if (_used == 0) return;
            long end = offset + Written + _used;
            if (limit > 0 && end > limit) throw new DeliveryIOException(LibC.EFBIG, "error writing message");
            if (stream is not null)
            {
                stream.Write(_buffer, 0, _used);
                Written += _used;
                _used = 0;
                return;
            }
            if (!LibC.TryWriteAll(fd, _buffer.AsSpan(0, _used), offset + Written, out int errno))
                throw new DeliveryIOException(errno, "error writing message");
            Written += _used;
            _used = 0;
        }
    }
}
