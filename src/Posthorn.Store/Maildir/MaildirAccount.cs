namespace Posthorn.Store.Maildir;

/// <summary>One user's Maildir: INBOX is the Maildir itself, mailbox "A.B" is the directory ".A.B"
/// (Maildir++), subscriptions are the lines of the file <c>subscriptions</c> (Courier/Dovecot).</summary>
internal sealed partial class MaildirAccount(MaildirStore store, string user, string root) : IMailAccount
{
    /// <summary>Maildir++ needs every level as its own directory name; deeper names are refused.</summary>
    private const int MaxDepth = 16;
    private const int MaxNameLength = 255;

    public string User { get; } = user;

    /// <summary>Maps an IMAP mailbox name to its directory; false for a name we refuse.</summary>
    /// <remarks>Refused: empty levels ("a..b", leading or trailing "."), "/" (a path), NUL and other
    /// controls, a leading "~", names longer than 255 or deeper than 16 levels.</remarks>
    internal bool TryGetPath(string name, out string path)
    {
        path = "";
        if (IsInbox(name))
        {
            path = root.TrimEnd('/');
            return true;
        }
        if (name.Length == 0 || name.Length > MaxNameLength || name[0] == '~') return false;
        int depth = 1;
        char prev = '.';
        foreach (char c in name)
        {
            if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return false;
            if (c == '.')
            {
                if (prev == '.') return false;
                if (++depth > MaxDepth) return false;
            }
            prev = c;
        }
        if (prev == '.') return false;
        // RFC 9051 §5.1: INBOX is case-insensitive, also as the first level of a hierarchy.
        if (name.StartsWith("INBOX.", StringComparison.OrdinalIgnoreCase)) name = "INBOX" + name[5..];
        path = Path.Combine(root, "." + name);
        return true;
    }

    internal static bool IsInbox(string name) => name.Equals("INBOX", StringComparison.OrdinalIgnoreCase);

    public IReadOnlyList<string> ListMailboxes()
    {
        var names = new List<string> { "INBOX" };
        if (!Directory.Exists(root)) return names;
        var folders = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(root, ".*"))
        {
            string n = Path.GetFileName(dir);
            if (n is "." or ".." || n.Length < 2) continue;
            if (Directory.Exists(Path.Combine(dir, "cur"))) folders.Add(n[1..]);
        }
        folders.Sort(StringComparer.Ordinal);
        names.AddRange(folders);
        return names;
    }

    public bool Exists(string name)
    {
        if (IsInbox(name)) return true;
        return TryGetPath(name, out var p) && Directory.Exists(Path.Combine(p, "cur"));
    }

    public StoreError? Create(string name)
    {
        if (!TryGetPath(name, out var path) || IsInbox(name)) return IsInbox(name) ? StoreError.AlreadyExists(name) : StoreError.BadName(name);
        if (Directory.Exists(Path.Combine(path, "cur"))) return StoreError.AlreadyExists(name);
        // RFC 9051 §6.3.4: CREATE makes the missing superior names too.
        string[] levels = name.Split('.');
        for (int i = 1; i <= levels.Length; i++)
        {
            string p = Path.Combine(root, "." + string.Join('.', levels[..i]));
            foreach (var sub in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(p, sub));
            // Maildir++: the file "maildirfolder" marks a folder (for deliver-style tools).
            string marker = Path.Combine(p, "maildirfolder");
            if (!File.Exists(marker)) File.WriteAllBytes(marker, []);
        }
        return null;
    }

    public StoreError? Delete(string name)
    {
        // RFC 9051 §6.3.5: deleting INBOX is an error.
        if (IsInbox(name)) return new StoreError("CANNOT", "INBOX can't be deleted.");
        if (!TryGetPath(name, out var path)) return StoreError.BadName(name);
        if (!Directory.Exists(path)) return StoreError.NonExistent(name);
        store.Forget(path);
        Directory.Delete(path, recursive: true);
        SetSubscribed(name, false);
        return null;
    }

    public StoreError? Rename(string from, string to)
    {
        // DEVIATION: RFC 9051 §6.3.6 renaming INBOX (moving its messages to a new mailbox) is not supported yet.
        if (IsInbox(from)) return new StoreError("CANNOT", "Renaming INBOX is not supported.");
        if (!TryGetPath(from, out var src) || !TryGetPath(to, out var dst) || IsInbox(to)) return StoreError.BadName(to);
        if (!Directory.Exists(src)) return StoreError.NonExistent(from);
        if (Directory.Exists(dst)) return StoreError.AlreadyExists(to);
        // RFC 9051 §6.3.6: inferior hierarchical names are renamed too.
        var children = ListMailboxes().Where(n => n.StartsWith(from + ".", StringComparison.Ordinal)).ToList();
        store.Forget(src);
        Directory.Move(src, dst);
        foreach (var child in children)
        {
            TryGetPath(child, out var cs);
            TryGetPath(to + child[from.Length..], out var cd);
            Directory.Move(cs, cd);
        }
        return null;
    }

    private string SubscriptionsPath => Path.Combine(root, "subscriptions");

    public IReadOnlySet<string> Subscriptions() =>
        File.Exists(SubscriptionsPath)
            ? File.ReadAllLines(SubscriptionsPath).Where(l => l.Length > 0).ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);

    public void SetSubscribed(string name, bool subscribed)
    {
        var set = new HashSet<string>(Subscriptions(), StringComparer.Ordinal);
        if (!(subscribed ? set.Add(name) : set.Remove(name))) return;
        Directory.CreateDirectory(root);
        string tmp = SubscriptionsPath + ".tmp";
        File.WriteAllLines(tmp, set.Order(StringComparer.Ordinal));
        File.Move(tmp, SubscriptionsPath, overwrite: true);
    }

    public async ValueTask<IMailbox?> OpenAsync(string name, bool readOnly, CancellationToken ct)
    {
        if (!Exists(name) || !TryGetPath(name, out var path)) return null;
        var folder = store.Acquire(path);
        var box = new MaildirMailbox(store, this, folder, IsInbox(name) ? "INBOX" : name, readOnly);
        try
        {
            await box.SyncAsync(true, ct);
            return box;
        }
        catch
        {
            await box.DisposeAsync();
            throw;
        }
    }

    public async ValueTask<MailboxStatus?> StatusAsync(string name, CancellationToken ct)
    {
        if (!Exists(name) || !TryGetPath(name, out var path)) return null;
        return await store.WithFolderAsync(path, f =>
        {
            var all = f.Snapshot;
            return new MailboxStatus(all.Length, all.Count(m => !m.Flags.HasFlag(MessageFlags.Seen)), f.UidNext,
                f.UidValidity, f.HighestModSeq, all.Sum(m => m.Size));
        }, ct);
    }
}
