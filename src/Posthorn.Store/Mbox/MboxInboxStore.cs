namespace Posthorn.Store.Mbox;

/// <summary>The store for users whose mail local(8) delivers to an mbox in mail_spool_directory:
/// INBOX is that mbox, other mailboxes are the user's Maildir folders.</summary>
/// <remarks>
/// Standards: RFC 4155 (the mbox format, mboxo quoting as Postfix writes it), RFC 9051 §2.3.1.1 (UIDs).
/// Postfix local(8): with home_mailbox empty, mail goes to mail_spool_directory/USER, an mbox unless
/// mail_spool_directory ends in "/". Which users: see <see cref="ForConfig"/>.
/// Security: runs as the daemon's user; the mbox is opened with O_NOFOLLOW and must be a regular file
/// with one link; user names that are not plain file names are never served from the spool. The index
/// lives in a directory Posthorn owns (<c>$data_directory/imapd-mbox</c>), never in the shared spool.
/// Locks: <see cref="MboxLock"/> (the dotlock and fcntl lock of local delivery and mutt).
/// Parameters (through the daemon): home_mailbox, mail_spool_directory, data_directory,
/// deliver_lock_attempts, deliver_lock_delay, stale_lock_time.
/// One instance per process: it keeps one <see cref="MboxFolder"/> per open mbox, shared by its sessions.
/// </remarks>
public sealed class MboxInboxStore(IMailStore maildirs, TimeProvider clock, string indexDirectory)
{
    private readonly Dictionary<string, MboxFolder> _open = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    internal TimeProvider Clock { get; } = clock;

    private IMailStore Maildirs => maildirs;

    /// <summary>Tests only: rewrites in place instead of by rename.</summary>
    internal bool ForceInPlace { get; set; }

    /// <summary>The store a session uses under this configuration: with <paramref name="homeMailbox"/> empty
    /// and an mbox spool (<paramref name="mailSpoolDirectory"/> not ending in "/"), where local(8) writes,
    /// INBOX is mail_spool_directory/USER (empty until the first delivery creates it), as Dovecot's
    /// <c>INBOX=/var/mail/%u</c>; except for a user whose Maildir already has an INBOX (<c>cur/</c>, e.g.
    /// made before the mail went to the spool), who keeps it, and whose mail lmtpd delivers there too. Under any other configuration every user gets the Maildir store.</summary>
    public IMailStore ForConfig(string homeMailbox, string mailSpoolDirectory, MboxLockOptions locking) =>
        IsMboxSpool(homeMailbox, mailSpoolDirectory) ? new Selecting(this, mailSpoolDirectory.Trim(), locking) : maildirs;

    /// <summary>Postfix local(8): with home_mailbox empty, mail goes to mail_spool_directory/USER, an mbox unless the
    /// directory name ends in "/".</summary>
    public static bool IsMboxSpool(string homeMailbox, string mailSpoolDirectory) =>
        homeMailbox.Trim().Length == 0 && mailSpoolDirectory.Trim().Length > 0 && !mailSpoolDirectory.TrimEnd().EndsWith('/');

    /// <summary>The mbox that is <paramref name="user"/>'s INBOX under this configuration (see <see cref="ForConfig"/>),
    /// or null when INBOX is the Maildir <paramref name="maildir"/>. lmtpd asks this to deliver where imapd reads; it
    /// must be asked with the user's identity, which may be the only one that can see into the Maildir.</summary>
    public static string? SpoolMboxOf(string homeMailbox, string mailSpoolDirectory, string user, string maildir) =>
        IsMboxSpool(homeMailbox, mailSpoolDirectory) && IsPlainName(user) && !Directory.Exists(Path.Combine(maildir, "cur"))
            ? Path.Combine(mailSpoolDirectory.Trim(), user) : null;

    /// <summary>The account of <paramref name="user"/> with INBOX in <paramref name="mboxPath"/>.</summary>
    public IMailAccount OpenAccount(string user, string maildir, string mboxPath, MboxLockOptions locking) =>
        new MboxInboxAccount(this, maildirs.OpenAccount(user, maildir), mboxPath,
            Path.Combine(indexDirectory, IndexName(user)), locking);

    private static string IndexName(string user) => Path.Combine(user, "index.sqlite");

    /// <summary>The directory of <paramref name="user"/>'s mbox index (<c>$data_directory/imapd-mbox/USER</c>): imapd
    /// works there with the user's identity, so it must belong to the user (see the daemon's UserMailStore).</summary>
    public string IndexDirectoryOf(string user) => Path.Combine(indexDirectory, user);

    /// <summary>Whether <paramref name="user"/> can name a file in the spool (no "/", not "." or "..", no NUL).</summary>
    internal static bool IsPlainName(string user) =>
        user.Length is > 0 and <= 255 && user is not ("." or "..") && user.IndexOfAny(['/', '\0']) < 0;

    internal MboxFolder Acquire(string path, string indexFile, MboxLockOptions locking)
    {
        lock (_gate)
        {
            if (!_open.TryGetValue(path, out var f))
            {
                f = new MboxFolder(path, indexFile, Clock, locking) { ForceInPlace = ForceInPlace };
                _open[path] = f;
            }
            f.References++;
            return f;
        }
    }

    internal void Release(MboxFolder folder)
    {
        lock (_gate)
        {
            if (--folder.References > 0) return;
            _open.Remove(folder.Path);
        }
        folder.Lock.Wait();
        folder.Dispose();
    }

    /// <summary>Runs <paramref name="action"/> on a folder under its lock, after a sync.</summary>
    internal async ValueTask<T> WithFolderAsync<T>(MboxFolder f, Func<T> action, CancellationToken ct)
    {
        await f.Lock.WaitAsync(ct);
        try
        {
            f.Sync(ct);
            return action();
        }
        finally
        {
            f.Lock.Release();
        }
    }

    internal async ValueTask<T> WithFolderAsync<T>(string path, string indexFile, MboxLockOptions locking, Func<MboxFolder, T> action,
        CancellationToken ct)
    {
        var f = Acquire(path, indexFile, locking);
        try
        {
            return await WithFolderAsync(f, () => action(f), ct);
        }
        finally
        {
            Release(f);
        }
    }

    /// <summary>Chooses per user at login (see <see cref="ForConfig"/>).</summary>
    private sealed class Selecting(MboxInboxStore owner, string spool, MboxLockOptions locking) : IMailStore
    {
        public IMailAccount OpenAccount(string user, string maildir) =>
            SpoolMboxOf("", spool, user, maildir) is { } mbox
                ? owner.OpenAccount(user, maildir, mbox, locking) : owner.Maildirs.OpenAccount(user, maildir);
    }
}
