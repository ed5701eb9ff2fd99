using System.Globalization;
using MimeKit;
using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>A parsed SEARCH program (RFC 9051 §6.4.4): a tree of keys evaluated per message.</summary>
/// <remarks>Keys: ALL, the flag keys and their UN- forms, NEW/OLD/RECENT, KEYWORD/UNKEYWORD, FROM, TO,
/// CC, BCC, SUBJECT, HEADER, BODY, TEXT, UID, sequence sets, BEFORE/ON/SINCE, SENTBEFORE/SENTON/SENTSINCE,
/// LARGER/SMALLER, MODSEQ (RFC 7162 §3.1.5), NOT, OR and parenthesized groups. Nesting is bounded by <see cref="MaxDepth"/>
/// (and by the command parser's list depth), so a hostile program is answered BAD, not with a stack overflow.
/// String matching is case-insensitive substring matching on decoded text (RFC 9051 §6.4.4).</remarks>
internal sealed class ImapSearch
{
    public const int MaxDepth = 100;

    private readonly Func<SearchInput, bool> _predicate;

    private ImapSearch(Func<SearchInput, bool> predicate, ParseState state)
    {
        _predicate = predicate;
        NeedsContent = state.NeedsContent || state.NeedsBody;
        NeedsBody = state.NeedsBody;
        NeedsFields = state.NeedsFields;
        NeedsExact = state.NeedsExact;
        UsesModSeq = state.UsesModSeq;
    }

    /// <summary>Whether the program has a MODSEQ key (RFC 7162 §3.1.5: the response then carries the
    /// highest mod-sequence of the messages found).</summary>
    public bool UsesModSeq { get; }

    /// <summary>Whether any key looks into the message (so the session must read it, or at least its header).</summary>
    public bool NeedsContent { get; }

    /// <summary>Whether any key looks past the header (BODY, TEXT); otherwise a message made of the header block
    /// alone answers every key.</summary>
    public bool NeedsBody { get; }

    /// <summary>Whether any key is FROM, TO, CC, BCC or SUBJECT: they are answered from <see cref="SearchText"/> (cached
    /// decoded fields), without parsing the message.</summary>
    public bool NeedsFields { get; }

    /// <summary>Whether any key compares RFC822.SIZE or INTERNALDATE (LARGER, SMALLER, BEFORE, ON, SINCE): the records
    /// must be exact (<see cref="MessageInfo.Estimated"/>).</summary>
    public bool NeedsExact { get; }

    /// <summary>Whether message <paramref name="seq"/> matches; <paramref name="content"/> is given when
    /// <see cref="NeedsContent"/>, <paramref name="text"/> when <see cref="NeedsFields"/>.</summary>
    public bool Matches(int seq, MessageInfo m, ImapMessage? content, SearchText? text = null) =>
        _predicate(new SearchInput(seq, m, content, text));

    /// <summary>Parses keys; <paramref name="count"/> and <paramref name="maxUid"/> give "*" its meaning.</summary>
    public static ImapSearch Parse(IReadOnlyList<ImapToken> keys, int count, uint maxUid)
    {
        var state = new ParseState(keys, count, maxUid);
        var all = new List<Func<SearchInput, bool>>();
        while (state.Pos < keys.Count) all.Add(state.ParseKey(0));
        return new ImapSearch(x => all.All(p => p(x)), state);
    }

    private sealed class ParseState(IReadOnlyList<ImapToken> tokens, int count, uint maxUid)
    {
        public int Pos;
        public bool NeedsContent;
        public bool NeedsBody;
        public bool NeedsFields;
        public bool NeedsExact;
        public bool UsesModSeq;

        private ImapToken Next() => Pos < tokens.Count ? tokens[Pos++] : throw new CommandSyntaxException("Missing search argument.");

        private string NextString() => Next() is { Kind: not ImapTokenKind.List } t ? t.Text : throw new CommandSyntaxException("Invalid search argument.");

        public Func<SearchInput, bool> ParseKey(int depth)
        {
            if (depth > MaxDepth) throw new CommandSyntaxException("Search program too deep.");
            var t = Next();
            if (t.Kind == ImapTokenKind.List)
            {
                var inner = new ParseState(t.Items, count, maxUid);
                var parts = new List<Func<SearchInput, bool>>();
                while (inner.Pos < t.Items.Count) parts.Add(inner.ParseKey(depth + 1));
                NeedsContent |= inner.NeedsContent;
                NeedsBody |= inner.NeedsBody;
                NeedsFields |= inner.NeedsFields;
                NeedsExact |= inner.NeedsExact;
                UsesModSeq |= inner.UsesModSeq;
                if (parts.Count == 0) throw new CommandSyntaxException("Empty search group.");
                return x => parts.All(p => p(x));
            }
            string key = t.Text.ToUpperInvariant();
            switch (key)
            {
                case "ALL": return _ => true;
                case "ANSWERED": return Flag(MessageFlags.Answered, true);
                case "UNANSWERED": return Flag(MessageFlags.Answered, false);
                case "DELETED": return Flag(MessageFlags.Deleted, true);
                case "UNDELETED": return Flag(MessageFlags.Deleted, false);
                case "DRAFT": return Flag(MessageFlags.Draft, true);
                case "UNDRAFT": return Flag(MessageFlags.Draft, false);
                case "FLAGGED": return Flag(MessageFlags.Flagged, true);
                case "UNFLAGGED": return Flag(MessageFlags.Flagged, false);
                case "SEEN": return Flag(MessageFlags.Seen, true);
                case "UNSEEN" or "NEW": return Flag(MessageFlags.Seen, false);
                // This store keeps no \Recent (IMAP4rev2 dropped it): no message is recent.
                case "RECENT": return _ => false;
                case "OLD": return _ => true;
                case "KEYWORD": { string k = NextString(); return x => x.Info.Keywords.Contains(k, StringComparer.OrdinalIgnoreCase); }
                case "UNKEYWORD": { string k = NextString(); return x => !x.Info.Keywords.Contains(k, StringComparer.OrdinalIgnoreCase); }
                case "LARGER": { long n = Number(); NeedsExact = true; return x => x.Info.Size > n; }
                case "SMALLER": { long n = Number(); NeedsExact = true; return x => x.Info.Size < n; }
                case "BEFORE": { var d = Date(); NeedsExact = true; return x => x.Info.InternalDate.Date < d; }
                case "ON": { var d = Date(); NeedsExact = true; return x => x.Info.InternalDate.Date == d; }
                case "SINCE": { var d = Date(); NeedsExact = true; return x => x.Info.InternalDate.Date >= d; }
                case "SENTBEFORE": { var d = Date(); NeedsContent = true; return x => Sent(x.Content) is { } s && s < d; }
                case "SENTON": { var d = Date(); NeedsContent = true; return x => Sent(x.Content) is { } s && s == d; }
                case "SENTSINCE": { var d = Date(); NeedsContent = true; return x => Sent(x.Content) is { } s && s >= d; }
                case "FROM" or "TO" or "CC" or "BCC" or "SUBJECT":
                {
                    // RFC 9051 §6.4.4: the decoded field contains the string (case-insensitive), from the cached fields.
                    string v = NextString();
                    var field = SearchText.FieldOf(key);
                    NeedsFields = true;
                    return x => x.Text!.Contains(field, v);
                }
                case "HEADER": { string name = NextString(); return HeaderKey(name, NextString()); }
                case "BODY": { string v = NextString(); NeedsBody = true; return x => BodyContains(x.Content!, v); }
                case "TEXT":
                {
                    string v = NextString();
                    NeedsBody = true;
                    return x => HeadersContain(x.Content!, null, v) || BodyContains(x.Content!, v);
                }
                case "UID":
                {
                    var set = Set(NextString());
                    return x => set.Contains(x.Info.Uid, maxUid);
                }
                case "MODSEQ":
                {
                    // RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer; the entry names
                    // a flag's own modseq, which this store does not keep apart: the message's modseq is used.
                    var arg = Next();
                    if (arg.Kind == ImapTokenKind.String)
                    {
                        string type = NextString().ToUpperInvariant();
                        if (type is not ("PRIV" or "SHARED" or "ALL")) throw new CommandSyntaxException("Invalid MODSEQ entry type.");
                        arg = Next();
                    }
                    if (arg.Kind != ImapTokenKind.Atom
                        || !ulong.TryParse(arg.Text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong since) || since > long.MaxValue)
                        throw new CommandSyntaxException("Invalid MODSEQ value.");
                    UsesModSeq = true;
                    return x => x.Info.ModSeq >= since;
                }
                case "NOT": { var inner = ParseKey(depth + 1); return x => !inner(x); }
                case "OR":
                {
                    var a = ParseKey(depth + 1);
                    var b = ParseKey(depth + 1);
                    return x => a(x) || b(x);
                }
                default:
                {
                    if (!SequenceSet.TryParse(t.Bytes.Span, out var set)) throw new CommandSyntaxException($"Unknown search key {t.Text}.");
                    return x => set.Contains((uint)x.Seq, (uint)count);
                }
            }
        }

        private Func<SearchInput, bool> HeaderKey(string name, string value)
        {
            NeedsContent = true;
            return x => HeadersContain(x.Content!, name, value);
        }

        private static Func<SearchInput, bool> Flag(MessageFlags f, bool set) => x => x.Info.Flags.HasFlag(f) == set;

        private long Number() => long.TryParse(NextString(), NumberStyles.None, CultureInfo.InvariantCulture, out long n)
            ? n : throw new CommandSyntaxException("Invalid number.");

        private static SequenceSet Set(string s) => SequenceSet.TryParse(System.Text.Encoding.ASCII.GetBytes(s), out var set)
            ? set : throw new CommandSyntaxException("Invalid sequence set.");

        /// <summary>RFC 9051 §9: date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-" date-month "-" date-year.</summary>
        private DateTime Date() =>
            DateTime.TryParseExact(NextString(), ["d-MMM-yyyy", "dd-MMM-yyyy"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
                ? d.Date : throw new CommandSyntaxException("Invalid date.");
    }

    private static DateTime? Sent(ImapMessage? c) =>
        c?.Message.Headers.Contains(HeaderId.Date) == true ? c.Message.Date.Date : null;

    private static bool HeadersContain(ImapMessage c, string? name, string value) =>
        HeadersContain(c.Message.Headers, name, value)
        // MimeKit moves the top-level Content-* fields to the body entity's header; they are still fields of the
        // message's header (RFC 9051 §6.4.4 HEADER, TEXT).
        || c.Message.Body is { } body && HeadersContain(body.Headers, name, value);

    private static bool HeadersContain(HeaderList headers, string? name, string value)
    {
        foreach (var h in headers)
        {
            if (name is not null && !h.Field.Equals(name, StringComparison.OrdinalIgnoreCase)) continue;
            // RFC 9051 §6.4.4: HEADER name "" matches every message that has the field.
            if (value.Length == 0 || h.Value.Contains(value, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    private static bool BodyContains(ImapMessage c, string value)
    {
        foreach (var part in c.Message.BodyParts)
            if (part is TextPart text && text.Text.Contains(value, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}

/// <summary>What a search key looks at for one message.</summary>
internal readonly record struct SearchInput(int Seq, MessageInfo Info, ImapMessage? Content, SearchText? Text);
