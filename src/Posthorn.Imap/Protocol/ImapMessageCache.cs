using System.Buffers;
using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>ENVELOPE, BODYSTRUCTURE, BODY and the header block of messages, kept in the store's cache
/// (<see cref="IMailbox.GetCachedAsync"/>), so that FETCH ENVELOPE and SEARCH FROM of a large mailbox do
/// not read and parse every message again (Dovecot keeps the same in dovecot.index.cache).</summary>
/// <remarks>A value is the exact response text (RFC 9051 §7.5.2 envelope / body / body-structure), for
/// <see cref="Header"/> the octets of the message's header (RFC 9051 §6.4.5 HEADER, CRLF line ends), for
/// <see cref="SearchFields"/> the decoded fields of <see cref="SearchText"/>. A message that misses them is read and
/// parsed once, and all its values are kept together as one record of the store (<see cref="Stored"/>: per value a
/// 4-octet little-endian length and the octets, in the order of <see cref="Order"/>): one row per message to write
/// and to read, where one per value made a first FETCH ENVELOPE of 100,000 messages write half a million rows.</remarks>
internal static class ImapMessageCache
{
    public const string Envelope = "imap.envelope";
    public const string BodyStructure = "imap.bodystructure";
    public const string Body = "imap.body";
    public const string Header = "imap.header";

    /// <summary>The decoded fields SEARCH FROM/TO/CC/BCC/SUBJECT match (<see cref="SearchText"/>).</summary>
    public const string SearchFields = "imap.searchfields";

    /// <summary>The store's field that holds a message's values (a new name when <see cref="Order"/> or a value's form
    /// changes: records of the old form are then never read).</summary>
    public const string Stored = "imap.message.1";

    private static readonly string[] Order = [Envelope, BodyStructure, Body, Header, SearchFields];

    /// <summary>Messages per store call that reads message files: each call is one lock (and, outside a command's store
    /// unit, one hop to the user's file thread).</summary>
    public const int Batch = 500;

    /// <summary>Messages per store unit when only records and cached values are needed (FETCH ENVELOPE, SEARCH FROM).</summary>
    public const int CachedBatch = 2000;

    /// <summary>Messages read and parsed together when their values are missing: small enough that the octets in flight
    /// (two chunks, one being read and one being parsed) die young, in the runtime's first generation, instead of being
    /// copied into older ones by every collection that finds them alive.</summary>
    private const int ParseChunk = 64;

    /// <summary>New records written to the store per transaction (at most, plus one chunk).</summary>
    private const int WriteChunk = 512;

    /// <summary>Octets of full messages read per store call at most (bounds the memory of a batch).</summary>
    public const long ReadBudget = 8 << 20;

    /// <summary>For each message (one batch), the values of <paramref name="fields"/> in their order; null for a
    /// message that is gone.</summary>
    /// <remarks>Missing records are made in chunks (<see cref="ReadChunks"/>), in a pipeline: the files of one chunk are
    /// read on the calling thread (the user's file thread under imapd) while the chunk before is parsed on the other
    /// cores, so that a first FETCH ENVELOPE of a large mailbox waits for the disk and the parser at the same time.</remarks>
    public static async ValueTask<ReadOnlyMemory<byte>[]?[]> GetAsync(IMailbox box, IReadOnlyList<MessageInfo> messages,
        IReadOnlyList<string> fields, CancellationToken ct)
    {
        var positions = fields.Select(f => Array.IndexOf(Order, f) is var p and >= 0 ? p
            : throw new ArgumentException($"not a cached field: {f}", nameof(fields))).ToArray();
        var result = new ReadOnlyMemory<byte>[]?[messages.Count];
        var stored = await box.GetCachedAsync(messages, Stored, ct);
        var missing = new List<int>();
        for (int i = 0; i < messages.Count; i++)
        {
            if (stored[i] is { } record && Unpack(record, positions) is { } row) result[i] = row;
            else missing.Add(i);
        }
        (List<int> Chunk, Task<byte[]?[]> Records)? parsing = null;
        var keep = new List<(MessageInfo, string, byte[])>();
        foreach (var chunk in ReadChunks(missing, i => messages[i].Size, ParseChunk))
        {
            var bytes = await box.ReadManyAsync(chunk.Select(i => messages[i]).ToList(), ct);
            if (parsing is { } before) await KeepAsync(before.Chunk, await before.Records, flush: false);
            parsing = (chunk, Task.Run(() => Records(bytes, ct), ct));
        }
        if (parsing is { } last) await KeepAsync(last.Chunk, await last.Records, flush: true);
        return result;

        // Records are written to the store a few chunks at a time (one transaction each).
        async ValueTask KeepAsync(List<int> chunk, byte[]?[] records, bool flush)
        {
            for (int k = 0; k < chunk.Count; k++)
            {
                if (records[k] is not { } record) continue;
                keep.Add((messages[chunk[k]], Stored, record));
                result[chunk[k]] = Unpack(record, positions);
            }
            if (keep.Count == 0 || !flush && keep.Count < WriteChunk) return;
            await box.SetCachedAsync(keep, ct);
            keep = [];
        }
    }

    /// <summary>The record of each message read (null for one that is gone), parsed on every core.</summary>
    private static byte[]?[] Records(IReadOnlyList<byte[]?> bytes, CancellationToken ct)
    {
        var records = new byte[]?[bytes.Count];
        Parallel.For(0, bytes.Count, new ParallelOptions { CancellationToken = ct }, k =>
        {
            if (bytes[k] is not { } raw) return;
            using var message = new ImapMessage(raw);
            records[k] = Pack(Compute(message));
        });
        return records;
    }

    /// <summary>Splits items into groups of at most <paramref name="most"/> (<see cref="Batch"/> unless given) whose sizes
    /// add up to at most <see cref="ReadBudget"/> (a single larger item is a group of its own).</summary>
    public static IEnumerable<List<T>> ReadChunks<T>(IEnumerable<T> items, Func<T, long> size, int most = Batch)
    {
        var chunk = new List<T>();
        long bytes = 0;
        foreach (var item in items)
        {
            long s = size(item);
            if (chunk.Count > 0 && (chunk.Count >= most || bytes + s > ReadBudget))
            {
                yield return chunk;
                chunk = [];
                bytes = 0;
            }
            chunk.Add(item);
            bytes += s;
        }
        if (chunk.Count > 0) yield return chunk;
    }

    /// <summary>Every cached value of a parsed message, in the order of <see cref="Order"/>.</summary>
    public static byte[][] Compute(ImapMessage m)
    {
        m.TryGetSection("HEADER", out var header);
        return
        [
            Render(m.WriteEnvelope),
            Render(w => m.WriteBodyStructure(w, true)),
            Render(w => m.WriteBodyStructure(w, false)),
            header,
            SearchText.Of(m).ToBytes(),
        ];
    }

    /// <summary>The stored record of a message's values.</summary>
    public static byte[] Pack(byte[][] values)
    {
        var record = new byte[values.Sum(v => 4 + v.Length)];
        int at = 0;
        foreach (var v in values)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(at), v.Length);
            v.CopyTo(record, at + 4);
            at += 4 + v.Length;
        }
        return record;
    }

    /// <summary>The values at <paramref name="positions"/> of a stored record, as slices of it (not copies); null when
    /// the record is not one of <see cref="Order"/>'s form (damaged, or cut short), so that the message is parsed
    /// again.</summary>
    public static ReadOnlyMemory<byte>[]? Unpack(byte[] record, int[] positions)
    {
        Span<Range> values = stackalloc Range[Order.Length];
        int at = 0;
        for (int v = 0; v < Order.Length; v++)
        {
            if (record.Length - at < 4) return null;
            int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(record[at..]);
            if (length < 0 || length > record.Length - at - 4) return null;
            values[v] = new Range(at + 4, at + 4 + length);
            at += 4 + length;
        }
        if (at != record.Length) return null;
        var row = new ReadOnlyMemory<byte>[positions.Length];
        for (int f = 0; f < positions.Length; f++) row[f] = record.AsMemory(values[positions[f]]);
        return row;
    }

    private static byte[] Render(Action<ImapResponseWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        write(new ImapResponseWriter(buffer));
        return buffer.WrittenSpan.ToArray();
    }
}
