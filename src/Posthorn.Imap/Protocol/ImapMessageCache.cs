using System.Buffers;
using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>ENVELOPE, BODYSTRUCTURE, BODY and the header block of messages, kept in the store's cache
/// (<see cref="IMailbox.GetCachedAsync"/>), so that FETCH ENVELOPE and SEARCH FROM of a large mailbox do
/// not read and parse every message again (Dovecot keeps the same in dovecot.index.cache).</summary>
/// <remarks>A value is the exact response text (RFC 9051 §7.5.2 envelope / body / body-structure), for
/// <see cref="Header"/> the octets of the message's header (RFC 9051 §6.4.5 HEADER, CRLF line ends), for
/// <see cref="SearchFields"/> the decoded fields of <see cref="SearchText"/>. A
/// message that misses any field is read and parsed once and every field is cached together.</remarks>
internal static class ImapMessageCache
{
    public const string Envelope = "imap.envelope";
    public const string BodyStructure = "imap.bodystructure";
    public const string Body = "imap.body";
    public const string Header = "imap.header";

    /// <summary>The decoded fields SEARCH FROM/TO/CC/BCC/SUBJECT match (<see cref="SearchText"/>).</summary>
    public const string SearchFields = "imap.searchfields";

    /// <summary>Messages per store call that reads message files: each call is one lock (and, outside a command's store
    /// unit, one hop to the user's file thread).</summary>
    public const int Batch = 500;

    /// <summary>Messages per store unit when only records and cached values are needed (FETCH ENVELOPE, SEARCH FROM).</summary>
    public const int CachedBatch = 2000;

    /// <summary>Octets of full messages read per store call at most (bounds the memory of a batch).</summary>
    public const long ReadBudget = 8 << 20;

    /// <summary>For each message (one batch), the values of <paramref name="fields"/> in their order; null for a
    /// message that is gone.</summary>
    public static async ValueTask<byte[][]?[]> GetAsync(IMailbox box, IReadOnlyList<MessageInfo> messages,
        IReadOnlyList<string> fields, CancellationToken ct)
    {
        var result = new byte[][]?[messages.Count];
        var values = new IReadOnlyList<byte[]?>[fields.Count];
        for (int f = 0; f < fields.Count; f++) values[f] = await box.GetCachedAsync(messages, fields[f], ct);
        var missing = new List<int>();
        for (int i = 0; i < messages.Count; i++)
        {
            var row = new byte[fields.Count][];
            bool complete = true;
            for (int f = 0; f < fields.Count && complete; f++)
            {
                if (values[f][i] is { } v) row[f] = v;
                else complete = false;
            }
            if (complete) result[i] = row;
            else missing.Add(i);
        }
        foreach (var chunk in ReadChunks(missing, i => messages[i].Size))
        {
            var bytes = await box.ReadManyAsync(chunk.Select(i => messages[i]).ToList(), ct);
            // Parsing is pure CPU on octets already read: it runs on every core (a first FETCH ENVELOPE of a large
            // mailbox parses every message), while the files were read on the user's own thread.
            var parsed = new Dictionary<string, byte[]>?[chunk.Count];
            Parallel.For(0, chunk.Count, new ParallelOptions { CancellationToken = ct }, k =>
            {
                if (bytes[k] is { } raw) parsed[k] = Compute(new ImapMessage(raw));
            });
            var store = new List<(MessageInfo, string, byte[])>(chunk.Count * 5);
            for (int k = 0; k < chunk.Count; k++)
            {
                if (parsed[k] is not { } computed) continue;
                int i = chunk[k];
                foreach (var (field, value) in computed) store.Add((messages[i], field, value));
                result[i] = fields.Select(f => computed[f]).ToArray();
            }
            await box.SetCachedAsync(store, ct);
        }
        return result;
    }

    /// <summary>Splits items into groups of at most <see cref="Batch"/> whose sizes add up to at most
    /// <see cref="ReadBudget"/> (a single larger item is a group of its own).</summary>
    public static IEnumerable<List<T>> ReadChunks<T>(IEnumerable<T> items, Func<T, long> size)
    {
        var chunk = new List<T>();
        long bytes = 0;
        foreach (var item in items)
        {
            long s = size(item);
            if (chunk.Count > 0 && (chunk.Count >= Batch || bytes + s > ReadBudget))
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

    /// <summary>Every cached field of a parsed message.</summary>
    public static Dictionary<string, byte[]> Compute(ImapMessage m)
    {
        m.TryGetSection("HEADER", out var header);
        return new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            [Envelope] = Render(m.WriteEnvelope),
            [BodyStructure] = Render(w => m.WriteBodyStructure(w, true)),
            [Body] = Render(w => m.WriteBodyStructure(w, false)),
            [Header] = header,
            [SearchFields] = SearchText.Of(m).ToBytes(),
        };
    }

    private static byte[] Render(Action<ImapResponseWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        write(new ImapResponseWriter(buffer));
        return buffer.WrittenSpan.ToArray();
    }
}
