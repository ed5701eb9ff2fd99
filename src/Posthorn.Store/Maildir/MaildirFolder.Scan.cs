using System.IO.Enumeration;

namespace Posthorn.Store.Maildir;

/// <summary>Reconciling the index with the files: new files get UIDs, renamed files (mutt changing
/// flags) update flags, missing files are expunged.</summary>
internal sealed partial class MaildirFolder
{
    /// <param name="moveNew">Whether files in new/ are moved to cur/ (false for a read-only session: Dovecot leaves
    /// new/ alone under EXAMINE, and a later read-write scan moves them).</param>
    private void Scan(bool moveNew)
    {
        var found = List();
        var missing = _byBase.Keys.Where(b => !found.ContainsKey(b)).ToList();
        if (missing.Count > 0)
        {
            // A rename by another program can hide a file from one directory listing (readdir(3) gives
            // no promise for entries renamed during the walk): list again before calling it expunged.
            var again = List();
            foreach (var kv in again) found.TryAdd(kv.Key, kv.Value);
            missing = _byBase.Keys.Where(b => !found.ContainsKey(b)).ToList();
        }

        var changed = new List<Entry>();
        var added = new List<(string Base, string Rel, MessageFlags Flags, string Other)>();
        foreach (var (baseName, rel) in found)
        {
            string current = moveNew ? MoveToCur(baseName, rel) : rel;
            string other = "";
            var fileFlags = current.StartsWith("cur/", StringComparison.Ordinal)
                ? MaildirName.FlagsOf(current.AsSpan(4), out other) : MessageFlags.None;
            if (_byBase.TryGetValue(baseName, out var e))
            {
                bool flagsDiffer = e.Info.Flags != fileFlags;
                if (flagsDiffer)
                    e.Info = e.Info with { Flags = fileFlags, ModSeq = NextModSeq() };
                if (flagsDiffer || e.Rel != current || e.OtherInfo != other)
                {
                    e.Rel = current;
                    e.OtherInfo = other;
                    changed.Add(e);
                }
            }
            else
            {
                added.Add((baseName, current, fileFlags, other));
            }
        }
        // New files get UIDs in delivery order, which the time at the start of their unique names gives.
        MaildirNameOrder.Sort(added, a => a.Base);
        _byBase.EnsureCapacity(_byBase.Count + added.Count);
        foreach (var (baseName, rel, flags, other) in added)
        {
            // No message file is opened here (a first SELECT of 100,000 messages would read them all): the size and
            // date come from the name, or a stat when the name has no size, and stay estimates until a command needs
            // them exact (Resolve; Dovecot too takes ,S=/,W= from the name and reads the rest lazily).
            long size;
            DateTimeOffset date;
            if (!((MaildirName.TryVirtualSize(baseName, out size) || MaildirName.TryStoredSize(baseName, out size))
                  && MaildirName.TryNameTime(baseName, out date)))
            {
                var stat = new FileInfo(System.IO.Path.Combine(Path, rel));
                if (!stat.Exists) continue;
                size = stat.Length;
                date = new DateTimeOffset(stat.LastWriteTimeUtc);
            }
            var info = new MessageInfo(UidNext++, flags, [], NextModSeq(), size,
                DateTimeOffset.FromUnixTimeSeconds(date.ToUnixTimeSeconds())) { Key = baseName, Estimated = true };
            var e = new Entry(info, rel, other);
            _byBase[baseName] = e;
            _byUid.Add(e);
            changed.Add(e);
        }
        var gone = missing.Select(b => _byBase[b]).ToList();
        foreach (var e in gone) _byBase.Remove(e.Info.Key);
        _byUid.RemoveAll(gone.Select(e => e.Info.Uid).ToHashSet());
        if (gone.Count > 0) NextModSeq();
        if (added.Count >= AsideRows)
            PersistAside(changed, gone.Select(e => e.Info.Uid));
        else if (changed.Count > 0 || gone.Count > 0)
            Persist(changed, gone.Select(e => e.Info.Uid));
    }

    /// <summary>Lists new/ then cur/ (so a file moved from new/ to cur/ meanwhile is seen in cur/):
    /// base name → relative path. Names starting with "." are not mail (Maildir convention).</summary>
    /// <remarks>Only what getdents(2) gives is read (name and type): no stat of an entry (attributes are not asked
    /// for), and two strings per file, the relative path and the base name.</remarks>
    private Dictionary<string, string> List()
    {
        var found = new Dictionary<string, string>(_byBase.Count + 16, StringComparer.Ordinal);
        var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false };
        foreach (var prefix in new[] { "new/", "cur/" })
        {
            var names = new FileSystemEnumerable<string>(System.IO.Path.Combine(Path, prefix[..3]),
                (ref FileSystemEntry entry) => string.Concat(prefix, entry.FileName), options)
            {
                ShouldIncludePredicate = (ref FileSystemEntry entry) => !entry.FileName.StartsWith('.') && !entry.IsDirectory,
            };
            foreach (var rel in names)
            {
                int colon = rel.IndexOf(':', 4);
                found[colon < 0 ? rel[4..] : rel[4..colon]] = rel;
            }
        }
        return found;
    }

    /// <summary>Moves a file from new/ to cur/ as "BASE:2," (Maildir convention: a reader that has seen
    /// a message moves it); returns where it is now.</summary>
    private string MoveToCur(string baseName, string rel)
    {
        if (!rel.StartsWith("new/", StringComparison.Ordinal)) return rel;
        string target = "cur/" + MaildirName.Format(baseName, MessageFlags.None);
        try
        {
            File.Move(System.IO.Path.Combine(Path, rel), System.IO.Path.Combine(Path, target));
            return target;
        }
        catch (IOException)
        {
            // Gone or moved by another reader: the next scan sees where it went.
            return rel;
        }
    }

    /// <summary>Renames the file of <paramref name="e"/> so its name carries <paramref name="flags"/>;
    /// false if the file is gone (another program expunged it).</summary>
    public bool RenameForFlags(Entry e, MessageFlags flags)
    {
        string target = "cur/" + MaildirName.Format(e.Info.Key, flags, e.OtherInfo);
        if (target == e.Rel) return true;
        try
        {
            File.Move(FullPath(e), System.IO.Path.Combine(Path, target));
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
        e.Rel = target;
        return true;
    }
}
