using Microsoft.Win32.SafeHandles;

namespace Posthorn.Store.Mbox;

/// <summary>Reading the mbox: noticing changes, parsing the new tail or the whole file, matching
/// messages to their UIDs, and reading one message.</summary>
internal sealed partial class MboxFolder
{
    /// <summary>Opens the mbox (again, when the path now names another inode); null when there is no file.</summary>
    private SafeFileHandle? EnsureOpen()
    {
        bool exists = MboxNative.TryLstat(Path, out var onDisk, out _);
        if (_fd is not null && exists && MboxNative.TryFstat(_fd, out var open) && open.Inode == onDisk.Inode) return _fd;
        _fd?.Dispose();
        _fd = null;
        if (!exists) return null;
        var fd = MboxNative.Open(Path, MboxNative.O_RDWR | MboxNative.O_NOFOLLOW | MboxNative.O_NOCTTY, 0, out int errno)
            ?? MboxNative.Open(Path, MboxNative.O_RDONLY | MboxNative.O_NOFOLLOW | MboxNative.O_NOCTTY, 0, out errno);
        if (fd is null)
        {
            if (errno == MboxNative.ENOENT) return null;
            throw new IOException($"cannot open {Path}: {MboxNative.StrError(errno)}");
        }
        if (!MboxNative.TryFstat(fd, out var st) || !st.IsRegular || st.Links != 1)
        {
            fd.Dispose();
            throw new IOException($"cannot open {Path}: not a regular file with one link");
        }
        return _fd = fd;
    }

    /// <summary>Brings the messages up to date with the file (takes a shared lock when it must read).</summary>
    public void Sync(CancellationToken ct)
    {
        if (!File.Exists(_indexFile)) Load();
        var fd = EnsureOpen();
        if (fd is null)
        {
            // No file (mutt removes an empty mbox): every message is gone.
            if (_size != 0 || _entries.Count > 0) Reconcile([], new MboxNative.FileStat(0, 0, 0, 0, 0, 0, 0));
            return;
        }
        if (!MboxNative.TryFstat(fd, out var st)) throw new IOException($"cannot stat {Path}");
        if (st.Inode == _inode && st.Size == _size && st.MtimeNanos == _mtime) return;
        using (MboxLock.Shared(Path, fd, _locking, ct))
            SyncLocked(fd);
    }

    /// <summary>As <see cref="Sync"/>, with a lock on <paramref name="fd"/> already held.</summary>
    private void SyncLocked(SafeFileHandle fd)
    {
        if (!MboxNative.TryFstat(fd, out var st)) throw new IOException($"cannot stat {Path}");
        if (st.Inode == _inode && st.Size == _size && st.MtimeNanos == _mtime) return;
        var zone = _clock.LocalTimeZone;
        if (st.Inode == _inode && _size >= 0 && st.Size > _size && OnlyAppended(fd))
        {
            var tail = MboxScanner.Scan(fd, _size, st.Size, zone, _clock.GetUtcNow());
            Identity(st);
            Persist(tail.Select(AddNew).ToList(), []);
            return;
        }
        Reconcile(MboxScanner.Scan(fd, 0, st.Size, zone, _clock.GetUtcNow()), st);
    }

    /// <summary>Whether the file is the one we read, grown at the end: the last known message still
    /// has its key where it was, and a From_ line starts where the file used to end.</summary>
    private bool OnlyAppended(SafeFileHandle fd)
    {
        Span<byte> head = stackalloc byte[5];
        if (RandomAccess.Read(fd, head, _size) != 5 || !head.SequenceEqual("From "u8)) return false;
        if (_entries.Count == 0) return _size == 0;
        var last = _entries[^1];
        if (last.End != _size) return false;
        var again = MboxScanner.Scan(fd, last.Offset, _size, _clock.LocalTimeZone, last.Info.InternalDate);
        return again.Count == 1 && again[0].Offset == last.Offset && again[0].Key == last.Key;
    }

    private void Identity(MboxNative.FileStat st) => (_inode, _size, _mtime) = (st.Inode, st.Size, st.MtimeNanos);

    private Entry AddNew(MboxScan s)
    {
        var info = new MessageInfo(UidNext++, s.Flags, s.Keywords, NextModSeq(), s.Size,
            DateTimeOffset.FromUnixTimeSeconds(s.Date.ToUnixTimeSeconds())) { Key = s.Key };
        var e = new Entry(info, s.Offset, s.End, s.Key, s.Flags, s.Old, s.Keywords);
        _entries.Add(e);
        _byUid[info.Uid] = e;
        return e;
    }

    /// <summary>Matches a full parse to the known messages, in order, by key; unmatched known messages
    /// are expunged, unmatched new ones at the end get new UIDs.</summary>
    private void Reconcile(List<MboxScan> scans, MboxNative.FileStat st)
    {
        var byKey = new Dictionary<string, Queue<int>>(StringComparer.Ordinal);
        for (int i = 0; i < _entries.Count; i++)
        {
            if (!byKey.TryGetValue(_entries[i].Key, out var q)) byKey[_entries[i].Key] = q = new Queue<int>();
            q.Enqueue(i);
        }
        var pairs = new List<(Entry Known, MboxScan Scan)>();
        var fresh = new List<MboxScan>();
        var keep = new HashSet<Entry>();
        bool outOfOrder = false;
        int next = 0;
        foreach (var s in scans)
        {
            int k = -1;
            if (byKey.TryGetValue(s.Key, out var q))
            {
                while (q.Count > 0 && q.Peek() < next) q.Dequeue();
                if (q.Count > 0) k = q.Dequeue();
            }
            if (k < 0)
            {
                fresh.Add(s);
                continue;
            }
            if (fresh.Count > 0) outOfOrder = true;
            pairs.Add((_entries[k], s));
            keep.Add(_entries[k]);
            next = k + 1;
        }
        Identity(st);
        if (outOfOrder)
        {
            // A message appeared before known ones: UIDs cannot stay ascending, so start over (RFC 9051 §2.3.1.1).
            UidValidity = NewUidValidity(UidValidity);
            UidNext = 1;
            _entries.Clear();
            _byUid.Clear();
            var all = scans.Select(AddNew).ToList();
            Persist(all, [], reset: true);
            return;
        }
        var gone = _entries.Where(e => !keep.Contains(e)).ToList();
        var changed = new List<Entry>();
        foreach (var (e, s) in pairs)
        {
            if (s.Flags != e.FileFlags)
            {
                // Another program (mutt) changed Status/X-Status: the file's flags win. (After our own
                // rewrite they are the index's flags already.)
                if (s.Flags != e.Info.Flags) e.Info = e.Info with { Flags = s.Flags, ModSeq = NextModSeq() };
                e.FileFlags = s.Flags;
            }
            if (!MboxMessageFilter.SameKeywords(s.Keywords, e.FileKeywords))
            {
                // The same for X-Keywords (a Dovecot or another IMAP server on the same file changed them).
                if (!MboxMessageFilter.SameKeywords(s.Keywords, e.Info.Keywords))
                    e.Info = e.Info with { Keywords = s.Keywords, ModSeq = NextModSeq() };
                e.FileKeywords = s.Keywords;
            }
            e.Offset = s.Offset;
            e.End = s.End;
            e.Old = s.Old;
            changed.Add(e);
        }
        foreach (var e in gone)
        {
            _entries.Remove(e);
            _byUid.Remove(e.Info.Uid);
        }
        if (gone.Count > 0) NextModSeq();
        changed.AddRange(fresh.Select(AddNew));
        Persist(changed, gone.Select(e => e.Info.Uid));
    }

    /// <summary>The message as served (see <see cref="MboxMessageFilter"/>); null if it is not where the
    /// index says (the file changed under us: the next sync finds it again).</summary>
    public byte[]? Read(Entry e, CancellationToken ct)
    {
        if (EnsureOpen() is not { } fd) return null;
        using (MboxLock.Shared(Path, fd, _locking, ct))
        {
            SyncLocked(fd);
            if (ByUid(e.Info.Uid) is not { } now) return null;
            var output = new MemoryStream((int)Math.Min(now.Info.Size, 1 << 20));
            MboxMessageFilter? filter = null;
            try
            {
                MboxScanner.ForEachLine(fd, now.Offset, now.End, (pos, piece, lineStart, lineEnd) =>
                {
                    if (filter is null)
                    {
                        if (pos != now.Offset || !piece.StartsWith("From "u8)) throw new InvalidDataException("no From_ line");
                        filter = new MboxMessageFilter(piece, b => output.Write(b));
                        return;
                    }
                    filter.Line(piece, lineStart, lineEnd);
                });
                if (filter is null || filter.Finish() != now.Key) return null;
            }
            catch (InvalidDataException)
            {
                return null;
            }
            finally
            {
                filter?.Dispose();
            }
            return output.ToArray();
        }
    }
}
