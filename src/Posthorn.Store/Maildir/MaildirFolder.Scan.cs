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
        var added = new List<(string Base, string Rel)>();
        foreach (var (baseName, rel) in found)
        {
            string current = moveNew ? MoveToCur(baseName, rel) : rel;
            var (_, fileFlags, other) = current.StartsWith("cur/", StringComparison.Ordinal)
                ? MaildirName.Parse(current[4..]) : (baseName, MessageFlags.None, "");
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
                added.Add((baseName, current));
            }
        }
        // New files get UIDs in delivery order, which the time at the start of their unique names gives.
        added.Sort((a, b) => MaildirNameOrder.Compare(a.Base, b.Base));
        foreach (var (baseName, rel) in added)
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
            var flags = rel.StartsWith("cur/", StringComparison.Ordinal) ? MaildirName.Parse(rel[4..]).Flags : MessageFlags.None;
            var info = new MessageInfo(UidNext++, flags, [], NextModSeq(), size,
                DateTimeOffset.FromUnixTimeSeconds(date.ToUnixTimeSeconds())) { Key = baseName, Estimated = true };
            var e = new Entry(info, rel, rel.StartsWith("cur/", StringComparison.Ordinal) ? MaildirName.Parse(rel[4..]).Other : "");
            _byBase[baseName] = e;
            _byUid[info.Uid] = e;
            changed.Add(e);
        }
        var gone = missing.Select(b => _byBase[b]).ToList();
        foreach (var e in gone)
        {
            _byBase.Remove(e.Info.Key);
            _byUid.Remove(e.Info.Uid);
        }
        if (gone.Count > 0) NextModSeq();
        if (changed.Count > 0 || gone.Count > 0)
            Persist(changed, gone.Select(e => e.Info.Uid));
    }

    /// <summary>Lists new/ then cur/ (so a file moved from new/ to cur/ meanwhile is seen in cur/):
    /// base name → relative path. Names starting with "." are not mail (Maildir convention).</summary>
    private Dictionary<string, string> List()
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var sub in new[] { "new", "cur" })
        {
            foreach (var full in Directory.EnumerateFiles(System.IO.Path.Combine(Path, sub)))
            {
                string name = System.IO.Path.GetFileName(full);
                if (name.StartsWith('.')) continue;
                found[MaildirName.Parse(name).Base] = sub + "/" + name;
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
