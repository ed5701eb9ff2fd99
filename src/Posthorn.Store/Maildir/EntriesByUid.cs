namespace Posthorn.Store.Maildir;

/// <summary>The entries of a folder in ascending UID order, found by binary search.</summary>
/// <remarks>UIDs are given in ascending order and never reused (RFC 9051 §2.3.1.1), and the index is read back
/// ORDER BY uid, so a new entry goes at the end: one array slot per message where a SortedDictionary kept a tree node
/// (a first SELECT of 100,000 messages spent a tenth of its time balancing that tree). An entry that does not come
/// last is still put in its place.</remarks>
internal sealed class EntriesByUid
{
    private readonly List<MaildirFolder.Entry> _entries = [];

    public int Count => _entries.Count;

    public IReadOnlyList<MaildirFolder.Entry> Values => _entries;

    public void Clear() => _entries.Clear();

    /// <summary>Adds <paramref name="e"/>, replacing an entry with the same UID.</summary>
    public void Add(MaildirFolder.Entry e)
    {
        uint uid = e.Info.Uid;
        if (_entries.Count == 0 || _entries[^1].Info.Uid < uid)
        {
            _entries.Add(e);
            return;
        }
        int i = IndexOf(uid);
        if (i >= 0) _entries[i] = e;
        else _entries.Insert(~i, e);
    }

    public MaildirFolder.Entry? Find(uint uid)
    {
        int i = IndexOf(uid);
        return i >= 0 ? _entries[i] : null;
    }

    public bool Contains(uint uid) => IndexOf(uid) >= 0;

    /// <summary>Removes the entries with these UIDs in one pass over the list.</summary>
    public void RemoveAll(IReadOnlyCollection<uint> uids)
    {
        if (uids.Count == 0) return;
        if (uids.Count == 1)
        {
            int i = IndexOf(uids.First());
            if (i >= 0) _entries.RemoveAt(i);
            return;
        }
        var set = uids as HashSet<uint> ?? [.. uids];
        _entries.RemoveAll(e => set.Contains(e.Info.Uid));
    }

    /// <summary>The index of <paramref name="uid"/>, or the bitwise complement of where it would go.</summary>
    private int IndexOf(uint uid)
    {
        int lo = 0, hi = _entries.Count - 1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            uint at = _entries[mid].Info.Uid;
            if (at == uid) return mid;
            if (at < uid) lo = mid + 1;
            else hi = mid - 1;
        }
        return ~lo;
    }
}
