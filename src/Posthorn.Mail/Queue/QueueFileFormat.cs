using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Posthorn.Core;

namespace Posthorn.Mail.Queue;

/// <summary>The queue file format: Posthorn's own (DESIGN.md decision 4). <see cref="QueueFileWriter"/>
/// writes it, <see cref="QueueFile"/> reads it and marks recipients done, postcat shows it.</summary>
/// <remarks>
/// <code>
/// offset 0      header: 64 bytes of ASCII
///                 "PHQ1 "          magic and format version
///                 20 digits        content length C (decimal, zero-padded)
///                 " "
///                 20 digits        envelope length E
///                 spaces, then "\n" as byte 63
/// offset 64     the message content, C bytes: header section, empty line, body; lines end in LF
/// offset 64+C   the envelope, E bytes: records, each
///                 type    1 byte, ASCII letter
///                 length  4 bytes, big-endian, of the value
///                 value   UTF-8
///               'T' arrival time, Unix time in microseconds (decimal)
///               'S' envelope sender; empty for the null sender
///               'A' named attribute, name "=" value
///               'R' recipient: status byte ('-' to do, 'D' done), address, then NUL and the
///                   original recipient when there is one
///               'N' RFC 3461 DSN of the recipient just before it: NOTIFY bits (decimal, Postfix's
///                   values: 1 NEVER, 2 SUCCESS, 4 FAILURE, 8 DELAY), NUL, ORCPT ("type;address", may
///                   be empty); written only when the recipient has one of them, so files written
///                   before this record existed read as recipients without DSN requests
///               'E' end of envelope: the number of records before it (decimal)
/// end of file   exactly at 64+C+E
/// </code>
/// The envelope comes last because the content streams into the file before the envelope is
/// final (cleanup can add recipients when it reaches the end of the headers, sendmail -t).
/// The header is written last, before the data fsync; a file in a queue directory was renamed
/// there only after that fsync, so a well-formed header is part of every published file.
/// Marking a recipient done rewrites its one status byte in place with pwrite(2) + fsync(2),
/// as Postfix rewrites a recipient record's type byte: a single-byte write cannot be torn.
/// </remarks>
internal static class QueueFileFormat
{
    public const int HeaderLength = 64;
    public static ReadOnlySpan<byte> Magic => "PHQ1 "u8;

    public const byte ArrivalRecord = (byte)'T';
    public const byte SenderRecord = (byte)'S';
    public const byte AttributeRecord = (byte)'A';
    public const byte RecipientRecord = (byte)'R';
    public const byte RecipientDsnRecord = (byte)'N';
    public const byte EndRecord = (byte)'E';

    public const byte StatusTodo = (byte)'-';
    public const byte StatusDone = (byte)'D';

    private const int RecordOverhead = 5;

    public static byte[] EncodeHeader(long contentLength, long envelopeLength)
    {
        var header = new byte[HeaderLength];
        header.AsSpan().Fill((byte)' ');
        Magic.CopyTo(header);
        Encoding.ASCII.GetBytes(contentLength.ToString("D20", CultureInfo.InvariantCulture), header.AsSpan(5));
        Encoding.ASCII.GetBytes(envelopeLength.ToString("D20", CultureInfo.InvariantCulture), header.AsSpan(26));
        header[HeaderLength - 1] = (byte)'\n';
        return header;
    }

    public static bool TryDecodeHeader(ReadOnlySpan<byte> header, out long contentLength, out long envelopeLength)
    {
        contentLength = envelopeLength = 0;
        if (header.Length != HeaderLength || !header.StartsWith(Magic) || header[25] != ' ' || header[HeaderLength - 1] != '\n')
            return false;
        return TryDigits(header.Slice(5, 20), out contentLength) && TryDigits(header.Slice(26, 20), out envelopeLength);
    }

    private static bool TryDigits(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        foreach (byte b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9' || value > (long.MaxValue - 9) / 10) return false;
            value = value * 10 + (b - '0');
        }
        return true;
    }

    public static byte[] EncodeEnvelope(QueueEnvelope envelope)
    {
        var output = new MemoryStream();
        int count = 0;
        long micros = (envelope.ArrivalTime.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        Put(output, ArrivalRecord, micros.ToString(CultureInfo.InvariantCulture), ref count);
        Put(output, SenderRecord, envelope.Sender.ToString(), ref count);
        foreach (var (name, value) in envelope.Attributes)
        {
            if (name.Length == 0 || name.Contains('=') || name.Contains('\0') || value.Contains('\0'))
                throw new ArgumentException($"bad queue file attribute name: {name}", nameof(envelope));
            Put(output, AttributeRecord, $"{name}={value}", ref count);
        }
        foreach (var r in envelope.Recipients)
        {
            if (r.Address.Contains('\0') || r.OriginalRecipient?.Contains('\0') == true)
                throw new ArgumentException("recipient contains NUL", nameof(envelope));
            string text = (char)(r.Done ? StatusDone : StatusTodo) + r.Address
                + (r.OriginalRecipient is { } orig ? "\0" + orig : "");
            Put(output, RecipientRecord, text, ref count);
            if (r.Notify != DsnNotifyFlags.Unspecified || r.DsnOriginalRecipient is not null)
            {
                if (r.DsnOriginalRecipient?.Contains('\0') == true) throw new ArgumentException("ORCPT contains NUL", nameof(envelope));
                Put(output, RecipientDsnRecord, ((int)r.Notify).ToString(CultureInfo.InvariantCulture) + "\0" + r.DsnOriginalRecipient, ref count);
            }
        }
        Put(output, EndRecord, count.ToString(CultureInfo.InvariantCulture), ref count);
        return output.ToArray();
    }

    private static void Put(MemoryStream output, byte type, string value, ref int count)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> head = stackalloc byte[RecordOverhead];
        head[0] = type;
        BinaryPrimitives.WriteInt32BigEndian(head[1..], bytes.Length);
        output.Write(head);
        output.Write(bytes);
        count++;
    }

    /// <summary>Parses the envelope records; <paramref name="statusOffsets"/> receives, per
    /// recipient, the offset of its status byte relative to the start of the envelope.</summary>
    public static QueueEnvelope DecodeEnvelope(string path, ReadOnlySpan<byte> data, List<long>? statusOffsets)
    {
        DateTimeOffset? arrival = null;
        SmtpPath? sender = null;
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var recipients = new List<QueueRecipient>();
        int pos = 0, count = 0;
        while (true)
        {
            if (data.Length - pos < RecordOverhead) throw new QueueFileCorruptException(path, "envelope truncated");
            byte type = data[pos];
            int length = BinaryPrimitives.ReadInt32BigEndian(data.Slice(pos + 1, 4));
            int start = pos + RecordOverhead;
            if (length < 0 || length > data.Length - start) throw new QueueFileCorruptException(path, "record length beyond envelope");
            var value = data.Slice(start, length);
            pos = start + length;
            switch (type)
            {
                case ArrivalRecord:
                    if (!long.TryParse(Utf8(path, value), NumberStyles.None, CultureInfo.InvariantCulture, out long micros)
                        || micros > (DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10)   // found by fuzz/run.sh queue-file
                        throw new QueueFileCorruptException(path, "bad arrival time record");
                    arrival = DateTimeOffset.UnixEpoch.AddTicks(micros * 10);
                    break;
                case SenderRecord:
                    sender = SmtpPath.FromAddress(Utf8(path, value));
                    break;
                case AttributeRecord:
                    string attr = Utf8(path, value);
                    int eq = attr.IndexOf('=');
                    if (eq <= 0) throw new QueueFileCorruptException(path, "bad attribute record");
                    attributes[attr[..eq]] = attr[(eq + 1)..];
                    break;
                case RecipientRecord:
                    if (length < 2 || value[0] is not (StatusTodo or StatusDone))
                        throw new QueueFileCorruptException(path, "bad recipient record");
                    string text = Utf8(path, value[1..]);
                    int nul = text.IndexOf('\0');
                    recipients.Add(nul < 0
                        ? new QueueRecipient(text, null, value[0] == StatusDone)
                        : new QueueRecipient(text[..nul], text[(nul + 1)..], value[0] == StatusDone));
                    statusOffsets?.Add(start);
                    break;
                case RecipientDsnRecord:
                    string dsn = Utf8(path, value);
                    int sep = dsn.IndexOf('\0');
                    if (recipients.Count == 0 || sep < 0
                        || !byte.TryParse(dsn.AsSpan(0, sep), NumberStyles.None, CultureInfo.InvariantCulture, out byte bits) || bits > 15)
                        throw new QueueFileCorruptException(path, "bad recipient DSN record");
                    recipients[^1] = recipients[^1] with
                    {
                        Notify = (DsnNotifyFlags)bits,
                        DsnOriginalRecipient = sep + 1 < dsn.Length ? dsn[(sep + 1)..] : null,
                    };
                    break;
                case EndRecord:
                    if (Utf8(path, value) != count.ToString(CultureInfo.InvariantCulture))
                        throw new QueueFileCorruptException(path, "record count mismatch");
                    if (pos != data.Length) throw new QueueFileCorruptException(path, "data after end record");
                    if (arrival is null || sender is null) throw new QueueFileCorruptException(path, "missing arrival time or sender record");
                    return new QueueEnvelope(sender, recipients, arrival.Value, attributes);
                default:
                    throw new QueueFileCorruptException(path, $"unknown record type {type}");
            }
            count++;
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private static string Utf8(string path, ReadOnlySpan<byte> value)
    {
        try
        {
            return StrictUtf8.GetString(value);
        }
        catch (DecoderFallbackException)
        {
            throw new QueueFileCorruptException(path, "record is not UTF-8");
        }
    }
}
