using System.Globalization;
using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>FETCH (RFC 9051 §6.4.5, §7.5.2).</summary>
public sealed partial class ImapServerSession
{
    private sealed record FetchItem(string Name, string? Section = null, bool Peek = false, long? Start = null, long? Count = null);

    private async ValueTask<Result> FetchAsync(IReadOnlyList<ImapToken> args, bool uid)
    {
        if (args.Count is < 2 or > 3) return Result.Bad("Invalid arguments.");
        var indexes = Resolve(args[0], uid);
        var items = ParseFetchItems(args[1]);
        if (args.Count == 3)
        {
            // RFC 7162 §3.1.4: FETCH … (CHANGEDSINCE modseq): only messages changed since, with their MODSEQ.
            if (!TryParseFetchModifiers(args[2], uid, out ulong since, out bool vanished, out string error)) return Result.Bad(error);
            if (vanished) await WriteVanishedEarlierAsync(args[0], since);
            indexes = indexes.Where(i => _box!.Messages[i].ModSeq > since).ToList();
            if (!items.Any(i => i.Name == "MODSEQ")) items.Add(new FetchItem("MODSEQ"));
        }
        if (items.Any(i => i.Name == "MODSEQ")) _condstore = true;
        // RFC 9051 §6.4.9: UID FETCH always returns UID.
        if ((uid || _qresync) && !items.Any(i => i.Name == "UID")) items.Insert(0, new FetchItem("UID"));
        bool needsContent = items.Any(i => i.Name is "RFC822" or "RFC822.HEADER" or "RFC822.TEXT" or "SECTION");
        // ENVELOPE, BODY and BODYSTRUCTURE come from the store's cache; the message is read only when they are missing.
        var cached = items.Where(i => i.Name is "ENVELOPE" or "BODY" or "BODYSTRUCTURE").Select(i => CacheField(i.Name)).Distinct().ToList();
        bool setsSeen = !_box!.ReadOnly && items.Any(i => i.Name is "RFC822" or "RFC822.TEXT" || i.Name == "SECTION" && !i.Peek);
        // A first scan takes sizes and dates from the file names; RFC822.SIZE and INTERNALDATE must be exact.
        bool needsExact = items.Any(i => i.Name is "RFC822.SIZE" or "INTERNALDATE");
        var batches = (needsContent
            ? ImapMessageCache.ReadChunks(indexes, i => _box.Messages[i].Size)
            : indexes.Chunk(ImapMessageCache.CachedBatch).Select(c => c.ToList())).ToList();
        for (int b = 0; b < batches.Count; b++)
        {
            var batch = batches[b];
            // The last batch also takes the updates the command ends with (RFC 9051 §7.5.1), in the same store unit.
            bool? syncAfter = b == batches.Count - 1 ? AllowsExpunge("FETCH", uid) : null;
            var loaded = await InStoreUnitAsync(() => LoadBatchAsync(batch, needsContent, cached, setsSeen, needsExact, syncAfter));
            for (int k = 0; k < batch.Count; k++)
            {
                int index = batch[k];
                var m = loaded.Infos[k];
                // RFC 9051 §7.5.1: a message expunged by another session may still be fetched; it is gone, so say so.
                if (loaded.Bytes is not null && loaded.Bytes[k] is null || loaded.Structures is not null && loaded.Structures[k] is null
                    || needsExact && m.Estimated)
                    return Result.No("Some messages were expunged.", "EXPUNGEISSUEDBEFORE");
                using var content = loaded.Bytes is null ? null : new ImapMessage(loaded.Bytes[k]!);
                var fetched = new Fetched(m, content, cached, loaded.Structures?[k]);
                _w.Raw("* "u8).Number(index + 1).Raw(" FETCH ("u8);
                bool first = true;
                foreach (var item in items) WriteFetchItem(item, fetched, ref first);
                // RFC 9051 §6.4.5: BODY[...] sets \Seen; the new flags are sent with the data.
                if (loaded.SeenSet[k] && !items.Any(i => i.Name == "FLAGS")) WriteFetchItem(new FetchItem("FLAGS"), fetched, ref first);
                _w.Raw(")"u8).Crlf();
                // Back-pressure: a client that does not read its output stalls here instead of filling memory.
                await FlushIfFullAsync();
            }
        }
        return Result.Ok("Fetch completed.");
    }

    /// <summary>What one FETCH batch needs from the store, loaded in one store unit.</summary>
    private sealed record LoadedBatch(IReadOnlyList<MessageInfo> Infos, IReadOnlyList<byte[]?>? Bytes, ReadOnlyMemory<byte>[]?[]? Structures, bool[] SeenSet);

    /// <summary>Records (exact when <paramref name="exact"/>), contents, cached fields and the \Seen flag a batch of FETCH
    /// needs; with <paramref name="syncAfter"/> also the mailbox changes to announce after the command.</summary>
    private async ValueTask<LoadedBatch> LoadBatchAsync(List<int> batch, bool needsContent, List<string> cached, bool setsSeen,
        bool exact, bool? syncAfter)
    {
        var box = _box!;
        IReadOnlyList<MessageInfo> infos = batch.Select(i => box.Messages[i]).ToList();
        var bytes = needsContent ? await box.ReadManyAsync(infos, _ct) : null;
        var structures = cached.Count > 0 ? await ImapMessageCache.GetAsync(box, infos, cached, _ct) : null;
        // After the reads: a store that learns exact sizes from the bytes it read (Maildir) does not read them again.
        if (exact) infos = await box.ResolveAsync(infos, _ct);
        var seenSet = new bool[batch.Count];
        if (setsSeen)
        {
            var unseen = Enumerable.Range(0, batch.Count)
                .Where(k => bytes?[k] is not null && !infos[k].Flags.HasFlag(MessageFlags.Seen)).ToList();
            if (unseen.Count > 0)
            {
                var updated = infos.ToArray();
                var position = unseen.ToDictionary(k => batch[k]);
                foreach (var (index, message) in await box.StoreFlagsAsync(unseen.Select(k => batch[k]).ToList(), FlagOperation.Add,
                             MessageFlags.Seen, [], _ct))
                {
                    int k = position[index];
                    updated[k] = message;
                    seenSet[k] = true;
                }
                infos = updated;
            }
        }
        if (syncAfter is { } allowExpunge) _pendingChanges = await box.SyncAsync(allowExpunge, _ct);
        return new LoadedBatch(infos, bytes, structures, seenSet);
    }

    private static string CacheField(string item) => item switch
    {
        "ENVELOPE" => ImapMessageCache.Envelope,
        "BODY" => ImapMessageCache.Body,
        _ => ImapMessageCache.BodyStructure,
    };

    /// <summary>What FETCH has of one message: its record, its content when read, and cached fields.</summary>
    private readonly record struct Fetched(MessageInfo Info, ImapMessage? Content, List<string> Fields, ReadOnlyMemory<byte>[]? Values)
    {
        public ReadOnlySpan<byte> Cached(string item) => Values![Fields.IndexOf(CacheField(item))].Span;
    }

    private void WriteFetchItem(FetchItem item, Fetched f, ref bool first)
    {
        if (!first) _w.Raw(" "u8);
        first = false;
        var m = f.Info;
        var c = f.Content;
        switch (item.Name)
        {
            case "UID": _w.Raw("UID "u8).Number(m.Uid); break;
            case "MODSEQ": _w.Raw("MODSEQ ("u8).Number((long)m.ModSeq).Raw(")"u8); break;   // RFC 7162 §3.1.4.1: below 2^63
            case "FLAGS": _w.Raw("FLAGS "u8).Raw(FlagBytes(m)); break;
            case "RFC822.SIZE": _w.Raw("RFC822.SIZE "u8).Number(m.Size); break;
            case "INTERNALDATE": _w.Raw("INTERNALDATE "u8).DateTime(m.InternalDate); break;
            case "ENVELOPE": _w.Raw("ENVELOPE "u8).Raw(f.Cached(item.Name)); break;
            case "BODYSTRUCTURE": _w.Raw("BODYSTRUCTURE "u8).Raw(f.Cached(item.Name)); break;
            case "BODY": _w.Raw("BODY "u8).Raw(f.Cached(item.Name)); break;
            case "RFC822": _w.Raw("RFC822 "u8).Literal(c!.Data); break;
            case "RFC822.HEADER": c!.TryGetSection("HEADER", out var h); _w.Raw("RFC822.HEADER "u8).Literal(h); break;
            case "RFC822.TEXT": c!.TryGetSection("TEXT", out var t); _w.Raw("RFC822.TEXT "u8).Literal(t); break;
            case "SECTION":
                if (!c!.TryGetSection(item.Section!, out var bytes)) bytes = [];
                string origin = "";
                if (item.Start is long start)
                {
                    // RFC 9051 §6.4.5: <start.count>; the response names only the origin.
                    long from = Math.Min(start, bytes.Length);
                    long count = Math.Min(item.Count ?? long.MaxValue, bytes.Length - from);
                    bytes = bytes.AsSpan((int)from, (int)count).ToArray();
                    origin = $"<{start}>";
                }
                _w.Ascii($"BODY[{item.Section}]{origin} ").Literal(bytes);
                break;
        }
    }

    /// <summary>The flag list of each set of system flags, made once (a FETCH FLAGS of 100,000 messages formatted it
    /// 100,000 times); a message with keywords has its list made for it.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<MessageFlags, byte[]> SystemFlagLists = new();

    private static byte[] FlagBytes(MessageInfo m) => m.Keywords.Count > 0
        ? System.Text.Encoding.UTF8.GetBytes(FormatFlags(m))
        : SystemFlagLists.GetOrAdd(m.Flags, static (_, m) => System.Text.Encoding.ASCII.GetBytes(FormatFlags(m)), m);

    private static List<FetchItem> ParseFetchItems(ImapToken arg)
    {
        var tokens = arg.Kind == ImapTokenKind.List ? arg.Items : [arg];
        var items = new List<FetchItem>();
        foreach (var t in tokens)
        {
            string s = t.Text;
            string upper = s.ToUpperInvariant();
            switch (upper)
            {
                // RFC 9051 §6.4.5 macros.
                case "ALL": items.AddRange([new("FLAGS"), new("INTERNALDATE"), new("RFC822.SIZE"), new("ENVELOPE")]); continue;
                case "FAST": items.AddRange([new("FLAGS"), new("INTERNALDATE"), new("RFC822.SIZE")]); continue;
                case "FULL": items.AddRange([new("FLAGS"), new("INTERNALDATE"), new("RFC822.SIZE"), new("ENVELOPE"), new("BODY")]); continue;
                case "UID" or "MODSEQ" or "FLAGS" or "INTERNALDATE" or "RFC822.SIZE" or "ENVELOPE" or "BODYSTRUCTURE" or "BODY"
                    or "RFC822" or "RFC822.HEADER" or "RFC822.TEXT":
                    items.Add(new FetchItem(upper));
                    continue;
            }
            bool peek = upper.StartsWith("BODY.PEEK[", StringComparison.Ordinal);
            if (!peek && !upper.StartsWith("BODY[", StringComparison.Ordinal))
                throw new CommandSyntaxException($"Unknown FETCH item {s}.");
            int open = s.IndexOf('['), close = s.LastIndexOf(']');
            if (close < open) throw new CommandSyntaxException("Invalid section.");
            string section = s[(open + 1)..close];
            // Section words are case-insensitive; the field names inside keep their case.
            int paren = section.IndexOf('(');
            section = paren < 0 ? section.ToUpperInvariant() : section[..paren].ToUpperInvariant() + section[paren..];
            string partial = s[(close + 1)..];
            long? start = null, count = null;
            if (partial.Length > 0)
            {
                if (partial[0] != '<' || partial[^1] != '>') throw new CommandSyntaxException("Invalid partial.");
                var nums = partial[1..^1].Split('.');
                if (nums.Length != 2 || !long.TryParse(nums[0], NumberStyles.None, CultureInfo.InvariantCulture, out long a)
                    || !long.TryParse(nums[1], NumberStyles.None, CultureInfo.InvariantCulture, out long b) || b == 0)
                    throw new CommandSyntaxException("Invalid partial.");
                (start, count) = (a, b);
            }
            items.Add(new FetchItem("SECTION", section, peek, start, count));
        }
        return items;
    }
}
