using System.Globalization;
using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>QRESYNC (RFC 7162 §3.2): SELECT/EXAMINE with (QRESYNC …), UID FETCH … (CHANGEDSINCE n VANISHED),
/// and VANISHED in place of EXPUNGE once the client has enabled it.</summary>
/// <remarks>The store remembers the UIDs expunged under the current UIDVALIDITY with the modseq of their removal
/// (<see cref="IMailbox.ExpungedSinceAsync"/>; the Maildir index keeps the newest 20,000 and answers older questions
/// with a superset, as RFC 7162 §3.2.5.2 allows), so the optional seq-match-data (a hint for servers that forget
/// expunges) is read and not needed.</remarks>
public sealed partial class ImapServerSession
{
    /// <summary>RFC 7162 §3.2.3: ENABLE QRESYNC was accepted (it implies CONDSTORE).</summary>
    private bool _qresync;

    /// <summary>Announces expunged messages: "* VANISHED uid-set" once QRESYNC is enabled (RFC 7162 §3.2.10),
    /// else one "* n EXPUNGE" per sequence number, highest first (RFC 9051 §7.5.1).</summary>
    private void AnnounceExpunged(IReadOnlyList<int> seqs, IReadOnlyList<uint> uids)
    {
        if (_qresync)
        {
            if (uids.Count > 0) _w.Ascii("* VANISHED " + SequenceSet.Format(uids.Order())).Crlf();
        }
        else
        {
            foreach (int s in seqs) _w.Ascii($"* {s} EXPUNGE").Crlf();
        }
        _announcedExists -= seqs.Count;
    }

    /// <summary>The UIDs at the given sequence numbers of a copy of the view taken before they were expunged.</summary>
    private static List<uint> UidsAt(IReadOnlyList<MessageInfo> before, IReadOnlyList<int> seqs) =>
        seqs.Select(s => before[s - 1].Uid).ToList();

    /// <summary>Parses the SELECT/EXAMINE parameter list: CONDSTORE (RFC 7162 §3.1.8) and
    /// QRESYNC (uidvalidity modseq [known-uids [(seq-set uid-set)]]) (RFC 7162 §3.2.5).</summary>
    private QResyncRequest? ParseSelectParameters(ImapToken list)
    {
        QResyncRequest? request = null;
        var items = list.Items;
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i].IsAtom("CONDSTORE"))
            {
                _condstore = true;
                continue;
            }
            if (!items[i].IsAtom("QRESYNC") || i + 1 >= items.Count || items[i + 1].Kind != ImapTokenKind.List)
                throw new CommandSyntaxException("Invalid SELECT parameters.");
            // RFC 7162 §3.2.5: BAD if the client has not enabled QRESYNC in this connection.
            if (!_qresync) throw new CommandSyntaxException("QRESYNC is not enabled.");
            var p = items[++i].Items;
            if (p.Count is < 2 or > 4
                || !uint.TryParse(p[0].Text, NumberStyles.None, CultureInfo.InvariantCulture, out uint validity) || validity == 0
                || !ulong.TryParse(p[1].Text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong modseq)
                || modseq == 0 || modseq > long.MaxValue)
                throw new CommandSyntaxException("Invalid QRESYNC parameters.");
            SequenceSet? known = null;
            if (p.Count >= 3)
            {
                if (p[2].Kind != ImapTokenKind.Atom || !SequenceSet.TryParse(p[2].Bytes.Span, out known))
                    throw new CommandSyntaxException("Invalid known-uids.");
            }
            if (p.Count == 4 && (p[3].Kind != ImapTokenKind.List || p[3].Items.Count != 2
                || !SequenceSet.TryParse(p[3].Items[0].Bytes.Span, out _) || !SequenceSet.TryParse(p[3].Items[1].Bytes.Span, out _)))
                throw new CommandSyntaxException("Invalid seq-match-data.");
            request = new QResyncRequest(validity, modseq, known);
        }
        return request;
    }

    private sealed record QResyncRequest(uint UidValidity, ulong ModSeq, SequenceSet? KnownUids);

    /// <summary>RFC 7162 §3.2.5.1: after the usual SELECT responses, VANISHED (EARLIER) for the known UIDs
    /// expunged since the client's modseq, then FETCH (UID FLAGS MODSEQ) for every message changed since.
    /// Nothing is sent when the client's UIDVALIDITY is not the mailbox's: it must resync fully.</summary>
    private async ValueTask WriteQResyncAsync(IMailbox box, QResyncRequest q)
    {
        if (q.UidValidity != box.UidValidity) return;
        uint largest = box.UidNext > 1 ? box.UidNext - 1 : 1;
        var vanished = (await box.ExpungedSinceAsync(q.ModSeq, _ct))
            .Where(u => q.KnownUids is null || q.KnownUids.Contains(u, largest)).ToList();
        if (vanished.Count > 0) _w.Ascii("* VANISHED (EARLIER) " + SequenceSet.Format(vanished)).Crlf();
        var messages = box.Messages;
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.ModSeq <= q.ModSeq || q.KnownUids is not null && !q.KnownUids.Contains(m.Uid, largest)) continue;
            _w.Ascii($"* {i + 1} FETCH (UID {m.Uid} FLAGS {FormatFlags(m)} MODSEQ ({m.ModSeq}))").Crlf();
            await FlushIfFullAsync();
        }
    }

    /// <summary>The FETCH modifier list: (CHANGEDSINCE n [VANISHED]) in any order (RFC 7162 §3.1.4, §3.2.6).</summary>
    private bool TryParseFetchModifiers(ImapToken list, bool uid, out ulong changedSince, out bool vanished, out string error)
    {
        changedSince = 0;
        vanished = false;
        error = "Invalid FETCH modifier.";
        bool haveSince = false;
        if (list.Kind != ImapTokenKind.List || list.Items.Count == 0) return false;
        var items = list.Items;
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i].IsAtom("CHANGEDSINCE") && i + 1 < items.Count
                && ulong.TryParse(items[i + 1].Text, NumberStyles.None, CultureInfo.InvariantCulture, out changedSince)
                && changedSince <= long.MaxValue)
            {
                haveSince = true;
                i++;
            }
            else if (items[i].IsAtom("VANISHED"))
            {
                vanished = true;
            }
            else
            {
                return false;
            }
        }
        if (!haveSince) return false;
        // RFC 7162 §3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE, after ENABLE QRESYNC.
        if (vanished && (!uid || !_qresync))
        {
            error = uid ? "QRESYNC is not enabled." : "VANISHED needs UID FETCH.";
            return false;
        }
        return true;
    }

    /// <summary>RFC 7162 §3.2.6: "* VANISHED (EARLIER)" for UIDs of the set expunged since the modseq,
    /// except those still in this session's view (their VANISHED comes with the next update).</summary>
    private async ValueTask WriteVanishedEarlierAsync(ImapToken set, ulong since)
    {
        if (set.Kind != ImapTokenKind.Atom || !SequenceSet.TryParse(set.Bytes.Span, out var seq)) return;
        var box = _box!;
        uint largest = box.UidNext > 1 ? box.UidNext - 1 : 1;
        var inView = box.Messages.Select(m => m.Uid).ToHashSet();
        var vanished = (await box.ExpungedSinceAsync(since, _ct))
            .Where(u => seq.Contains(u, largest) && !inView.Contains(u)).ToList();
        if (vanished.Count > 0) _w.Ascii("* VANISHED (EARLIER) " + SequenceSet.Format(vanished)).Crlf();
    }
}
