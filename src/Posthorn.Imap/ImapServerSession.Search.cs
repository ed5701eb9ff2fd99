using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>SEARCH (RFC 9051 §6.4.4): "* SEARCH" for IMAP4rev1, "* ESEARCH" once IMAP4rev2 is enabled.</summary>
public sealed partial class ImapServerSession
{
    private async ValueTask<Result> SearchAsync(string tag, IReadOnlyList<ImapToken> args, bool uid)
    {
        var keys = args.ToList();
        var returns = new List<string>();
        // RFC 4731 / RFC 9051 §6.4.4.1: RETURN (MIN MAX COUNT ALL).
        if (keys.Count >= 2 && keys[0].IsAtom("RETURN") && keys[1].Kind == ImapTokenKind.List)
        {
            returns.AddRange(keys[1].Items.Select(i => i.Text.ToUpperInvariant()));
            keys.RemoveRange(0, 2);
        }
        if (keys.Count >= 2 && keys[0].IsAtom("CHARSET"))
        {
            string charset = keys[1].Text.ToUpperInvariant();
            if (charset is not ("UTF-8" or "US-ASCII")) return Result.No("Unsupported charset.", "BADCHARSET (UTF-8 US-ASCII)");
            keys.RemoveRange(0, 2);
        }
        if (keys.Count == 0) return Result.Bad("Missing search keys.");
        var messages = _box!.Messages;
        var search = ImapSearch.Parse(keys, messages.Count, messages.Count > 0 ? messages[^1].Uid : 0);
        var hits = new List<uint>();
        ulong highest = 0;
        var all = Enumerable.Range(0, messages.Count);
        // BODY and TEXT need the whole message; header keys need only the header block and FROM/TO/CC/BCC/SUBJECT only
        // the decoded fields, which the cache keeps.
        var cachedFields = new List<string>();
        if (!search.NeedsBody && search.NeedsContent) cachedFields.Add(ImapMessageCache.Header);
        if (!search.NeedsBody && search.NeedsFields) cachedFields.Add(ImapMessageCache.SearchFields);
        var batches = search.NeedsBody ? ImapMessageCache.ReadChunks(all, i => messages[i].Size)
            : all.Chunk(search.NeedsContent ? ImapMessageCache.Batch : ImapMessageCache.CachedBatch).Select(c => c.ToList());
        foreach (var batch in batches)
        {
            IReadOnlyList<MessageInfo> infos = batch.Select(i => messages[i]).ToList();
            // LARGER, SMALLER, BEFORE, ON and SINCE compare exact values, not a first scan's estimates.
            if (search.NeedsExact) infos = await _box.ResolveAsync(infos, _ct);
            IReadOnlyList<byte[]?>? bytes = search.NeedsBody ? await _box.ReadManyAsync(infos, _ct) : null;
            var cached = cachedFields.Count > 0 ? await ImapMessageCache.GetAsync(_box, infos, cachedFields, _ct) : null;
            for (int k = 0; k < batch.Count; k++)
            {
                int i = batch[k];
                var m = infos[k];
                if (search.NeedsExact && m.Estimated) continue;   // its file is gone
                ImapMessage? content = null;
                SearchText? text = null;
                if (bytes is not null)
                {
                    if (bytes[k] is not { } b) continue;
                    content = new ImapMessage(b);
                    if (search.NeedsFields) text = SearchText.Of(content);
                }
                else if (cached is not null)
                {
                    if (cached[k] is not { } values) continue;
                    if (search.NeedsContent) content = new ImapMessage(values[cachedFields.IndexOf(ImapMessageCache.Header)].ToArray());
                    if (search.NeedsFields) text = SearchText.Parse(values[cachedFields.IndexOf(ImapMessageCache.SearchFields)].Span);
                }
                bool matches = search.Matches(i + 1, m, content, text);
                content?.Dispose();
                if (!matches) continue;
                hits.Add(uid ? m.Uid : (uint)(i + 1));
                highest = Math.Max(highest, m.ModSeq);
            }
        }
        // RFC 7162 §3.1.5: a SEARCH with MODSEQ enables CONDSTORE, and a non-empty result carries the highest
        // mod-sequence of the messages found: "* SEARCH 2 5 (MODSEQ 917)" or ESEARCH "… MODSEQ 917".
        if (search.UsesModSeq) _condstore = true;
        bool withModSeq = search.UsesModSeq && hits.Count > 0;
        if (_rev2 || returns.Count > 0)
        {
            if (returns.Count == 0) returns.Add("ALL");
            var parts = new List<string> { $"(TAG \"{tag}\")" };
            if (uid) parts.Add("UID");
            if (hits.Count > 0)
            {
                if (returns.Contains("MIN")) parts.Add($"MIN {hits.Min()}");
                if (returns.Contains("MAX")) parts.Add($"MAX {hits.Max()}");
                if (returns.Contains("ALL")) parts.Add("ALL " + SequenceSet.Format(hits.Order()));
            }
            if (returns.Contains("COUNT")) parts.Add($"COUNT {hits.Count}");
            if (withModSeq) parts.Add($"MODSEQ {highest}");
            _w.Ascii("* ESEARCH " + string.Join(' ', parts)).Crlf();
        }
        else
        {
            _w.Ascii("* SEARCH" + string.Concat(hits.Select(h => " " + h)) + (withModSeq ? $" (MODSEQ {highest})" : "")).Crlf();
        }
        return Result.Ok("Search completed.");
    }
}
