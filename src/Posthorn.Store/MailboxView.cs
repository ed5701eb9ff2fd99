namespace Posthorn.Store;

/// <summary>A session's list of messages over a folder shared by every session of the process (Maildir or mbox):
/// its sequence numbers, and how it catches up with the folder's snapshot.</summary>
/// <remarks>RFC 9051 §7.5.1: the view changes only when the session allows it; expunges by others are held back
/// until a sync with allowExpunge. The folder's snapshot and the view are both in UID order.</remarks>
internal sealed class MailboxView
{
    private long _seenVersion = -1;

    /// <summary>The messages; position + 1 is the sequence number. The mailbox edits it for its own operations.</summary>
    public List<MessageInfo> Items { get; } = [];

    public uint UidValidity { get; private set; }

    /// <summary>Merges the folder's state (its UIDVALIDITY, its change counter and its snapshot, read only when the
    /// counter moved) into the view; returns what the session announces.</summary>
    public MailboxChanges Sync(uint uidValidity, long version, Func<MessageInfo[]> snapshot, bool allowExpunge)
    {
        if (UidValidity != uidValidity)
        {
            // The index was rebuilt: the old sequence numbers mean nothing any more (RFC 9051 §2.3.1.1).
            UidValidity = uidValidity;
            Items.Clear();
            _seenVersion = -1;
        }
        if (version == _seenVersion) return new MailboxChanges([], Items.Count, false, []);
        var snap = snapshot();
        if (Items.Count == 0)
        {
            // A new view (SELECT): the folder's records as they are, nothing to compare.
            Items.AddRange(snap);
            _seenVersion = version;
            return new MailboxChanges([], Items.Count, Items.Count > 0, []);
        }
        int oldCount = Items.Count;
        var expunged = new List<int>();
        var expungedUids = new List<uint>();
        bool heldBack = false;
        // Both lists are in UID order: walk them together.
        var merged = new List<MessageInfo>(snap.Length);
        var changedUids = new HashSet<uint>();
        int j = 0;
        for (int i = 0; i < Items.Count; i++)
        {
            var v = Items[i];
            while (j < snap.Length && snap[j].Uid < v.Uid) j++;
            if (j < snap.Length && snap[j].Uid == v.Uid)
            {
                if (snap[j].ModSeq != v.ModSeq) changedUids.Add(v.Uid);
                merged.Add(snap[j]);
                j++;
            }
            else if (allowExpunge)
            {
                expunged.Add(i + 1);
                expungedUids.Add(v.Uid);
            }
            else
            {
                heldBack = true;
                merged.Add(v);
            }
        }
        uint lastUid = Items[^1].Uid;
        foreach (var m in snap)
            if (m.Uid > lastUid) merged.Add(m);
        // EXPUNGE responses go out highest first, so each number is still the one the client knows.
        expunged.Reverse();
        Items.Clear();
        Items.AddRange(merged);
        var flagsChanged = new List<int>();
        for (int i = 0; i < Items.Count; i++)
            if (changedUids.Contains(Items[i].Uid)) flagsChanged.Add(i);
        if (!heldBack) _seenVersion = version;
        return new MailboxChanges(expunged, Items.Count, Items.Count != oldCount || expunged.Count > 0, flagsChanged)
        {
            ExpungedUids = expungedUids,
        };
    }

    /// <summary>The position of <paramref name="uid"/> in the view, or -1.</summary>
    public int IndexOfUid(uint uid)
    {
        int lo = 0, hi = Items.Count - 1;
        while (lo <= hi)
        {
            int mid = lo + (hi - lo) / 2;
            uint u = Items[mid].Uid;
            if (u == uid) return mid;
            if (u < uid) lo = mid + 1;
            else hi = mid - 1;
        }
        return -1;
    }

    /// <summary>The flags and keywords of <paramref name="info"/> after a STORE (RFC 9051 §6.4.6: +FLAGS adds, -FLAGS
    /// removes, FLAGS replaces; keywords compare case-insensitively).</summary>
    public static (MessageFlags Flags, List<string> Keywords) Apply(MessageInfo info, FlagOperation operation,
        MessageFlags flags, IReadOnlyList<string> keywords) => operation switch
    {
        FlagOperation.Add => (info.Flags | flags, info.Keywords.Union(keywords, StringComparer.OrdinalIgnoreCase).ToList()),
        FlagOperation.Remove => (info.Flags & ~flags,
            info.Keywords.Where(k => !keywords.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList()),
        _ => (flags, keywords.Distinct(StringComparer.OrdinalIgnoreCase).ToList()),
    };
}
