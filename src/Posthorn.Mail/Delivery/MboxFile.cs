namespace Posthorn.Mail.Delivery;

/// <summary>Appends one message to an mbox file the way Postfix local(8) does: dotlock,
/// safe_open, fcntl lock, write at the end, fsync, and truncate back on any error.</summary>
/// <remarks>
/// Postfix mbox_open(3), safe_open(3), dot_lockfile(3); mailbox_delivery_lock = fcntl, dotlock
/// (the Linux default). Runs on the delivery thread, under the identity chosen by the caller.
/// Security: the final path component is opened with O_NOFOLLOW; an existing file must be a
/// regular file with one link and, when <c>owner</c> is given, belong to that user; a new
/// file is created with O_EXCL, mode 0600, and given to <c>chown</c> when the thread works as root.
/// Parameters: deliver_lock_attempts, deliver_lock_delay, stale_lock_time, mailbox_size_limit.
/// <see cref="Rewrite"/> is the same locking for a mail reader that removes messages (posthorn mail).
/// </remarks>
public static class MboxFile
{
    private const int O_RDWR = 2;

    /// <summary>What a failed step reports; <see cref="Text"/> follows "cannot update mailbox X for user Y. ".</summary>
    public sealed class Failure(int errno, string text) : Exception(text)
    {
        public int Errno { get; } = errno;
        public string Text { get; } = text;
    }

    public readonly record struct Locking(int Attempts, TimeSpan Delay, TimeSpan StaleLockTime, TimeProvider Clock, CancellationToken Ct);

    /// <summary>Appends; returns normally when the message is on disk.</summary>
    /// <param name="owner">the uid an existing file must have, or null not to check (file targets).</param>
    /// <param name="chown">uid/gid to give a newly created file, or null to keep the creator's.</param>
    /// <param name="dotlockMayFail">Postfix MBOX_DOT_LOCK_MAY_FAIL: go on with only the fcntl
    /// lock when the directory does not allow the lock file.</param>
    /// <exception cref="Failure">with Postfix's text and the errno that decides the DSN.</exception>
    public static void Append(string path, uint? owner, (uint Uid, uint Gid)? chown, Locking locking, bool dotlockMayFail,
        Action<int, long> write)
    {
        string lockPath = path + ".lock";
        for (int attempt = 1; ; attempt++)
        {
            bool dotlocked = DotLock(lockPath, locking, dotlockMayFail);
            try
            {
                int fd = SafeOpen(path, owner, chown);
                try
                {
                    // DEVIATION: Postfix waits for the kernel lock while it holds the dotlock. mutt takes them
                    // the other way round (fcntl, then the dotlock), so both waiting deadlocks until one gives
                    // up, and mutt then asks its user to remove our lock. Here a busy fcntl lock releases the
                    // dotlock too before the next attempt, so a mail reader that holds one always gets the other.
                    if (LibC.TryLockWhole(fd, unlock: false, out int errno))
                    {
                        AppendLocked(fd, write);
                        return;
                    }
                    if (errno is not (LibC.EAGAIN or LibC.EACCES) || attempt >= locking.Attempts)
                        throw new Failure(LibC.EAGAIN, $"unable to lock for exclusive access: {LibC.StrError(errno)}");
                }
                finally
                {
                    LibC.close(fd);
                }
            }
            finally
            {
                if (dotlocked) LibC.unlink(lockPath);
            }
            Wait(locking); // busy: both locks are released while waiting
        }
    }

    /// <summary>Writes at the end found after locking (a reader may have rewritten the file meanwhile),
    /// fsyncs, and truncates back on any error.</summary>
    private static void AppendLocked(int fd, Action<int, long> write)
    {
        if (!LibC.TryFstat(fd, out var st, out int errno)) throw new Failure(errno, $"cannot stat file: {LibC.StrError(errno)}");
        long end = st.Size;
        try
        {
            write(fd, end);
            if (LibC.fsync(fd) < 0) throw new DeliveryIOException(LibC.Errno, "error writing message");
        }
        catch (DeliveryIOException e)
        {
            // Postfix mail_copy(3): on error "truncate the file to its original length" so no half message stays.
            LibC.ftruncate(fd, end);
            throw new Failure(e.Errno, e.Message);
        }
        LibC.TryLockWhole(fd, unlock: true, out _);
    }

    /// <summary>Replaces an existing mbox under the same dotlock and fcntl lock that <see cref="Append"/>
    /// takes, so neither local delivery nor another reader changes it meanwhile.</summary>
    /// <remarks>
    /// <paramref name="body"/> reads the locked file (<c>current</c>, positioned at 0) and writes the new
    /// content to <c>replacement</c>, a new file in the same directory with the original's owner and
    /// mode. It is fsync'd and renamed over the original, so a crash leaves either the old or the new
    /// mailbox, never a half-written one. When <paramref name="body"/> returns false or throws, the
    /// original stays as it is.
    /// </remarks>
    /// <returns>whether the mailbox was replaced.</returns>
    /// <exception cref="Failure">the file cannot be opened or locked.</exception>
    public static bool Rewrite(string path, Locking locking, bool dotlockMayFail, Func<Stream, Stream, bool> body)
    {
        string lockPath = path + ".lock";
        bool dotlocked = DotLock(lockPath, locking, dotlockMayFail);
        try
        {
            int fd = LibC.Open(path, O_RDWR | LibC.O_NOFOLLOW | LibC.O_NOCTTY, 0, out int errno);
            if (fd < 0) throw new Failure(errno, $"cannot open file: {LibC.StrError(errno)}");
            try
            {
                if (!LibC.TryFstat(fd, out var st, out errno)) throw new Failure(errno, $"cannot stat file: {LibC.StrError(errno)}");
                if (!st.IsRegular || st.Links != 1) throw new Failure(LibC.EPERM, "cannot open file: not a regular file with one link");
                LockFcntl(fd, locking);
                bool replaced = ReplaceLocked(path, fd, st, body);
                LibC.TryLockWhole(fd, unlock: true, out _);
                return replaced;
            }
            finally
            {
                LibC.close(fd);
            }
        }
        finally
        {
            if (dotlocked) LibC.unlink(lockPath);
        }
    }

    private static bool ReplaceLocked(string path, int fd, LibC.FileStat st, Func<Stream, Stream, bool> body)
    {
        string temp = $"{path}.{Environment.ProcessId}.tmp";
        int tfd = LibC.Open(temp, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW | LibC.O_NOCTTY, 0x180, out int errno);
        if (tfd < 0) throw new Failure(errno, $"cannot create file {temp}: {LibC.StrError(errno)}");
        bool keep = false;
        try
        {
            if (LibC.IsRoot && LibC.fchown(tfd, st.Uid, st.Gid) < 0)
                throw new Failure(LibC.Errno, $"cannot change file ownership: {LibC.StrError(LibC.Errno)}");
            File.SetUnixFileMode(temp, (UnixFileMode)(st.Mode & 0xFFF));
            using (var current = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: false), FileAccess.ReadWrite))
            using (var replacement = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(tfd, ownsHandle: false), FileAccess.Write))
            {
                current.Position = 0;
                if (!body(current, replacement)) return false;
                replacement.Flush();
            }
            if (LibC.fsync(tfd) < 0) throw new Failure(LibC.Errno, $"error writing {temp}: {LibC.StrError(LibC.Errno)}");
            if (LibC.rename(temp, path) < 0) throw new Failure(LibC.Errno, $"cannot rename {temp}: {LibC.StrError(LibC.Errno)}");
            keep = true;
            new Queue.DirectorySync(Path.GetDirectoryName(Path.GetFullPath(path))!).Sync();
            return true;
        }
        finally
        {
            LibC.close(tfd);
            if (!keep) LibC.unlink(temp);
        }
    }

    /// <summary>Postfix safe_open(3): open an existing file without following a symlink, or create it exclusively.</summary>
    private static int SafeOpen(string path, uint? owner, (uint Uid, uint Gid)? chown)
    {
        for (int attempt = 0; attempt < 3; attempt++)
        {
            int fd = LibC.Open(path, LibC.O_WRONLY | LibC.O_NOFOLLOW | LibC.O_NOCTTY, 0, out int errno);
            if (fd >= 0)
            {
                string? bad = null;
                if (!LibC.TryFstat(fd, out var st, out errno)) bad = $"cannot stat file: {LibC.StrError(errno)}";
                else if (!st.IsRegular) bad = "file is not a regular file";
                else if (st.Links != 1) bad = $"file has {st.Links} hard links";
                else if (owner is { } uid && st.Uid != uid) bad = "file has wrong owner";
                if (bad is null) return fd;
                LibC.close(fd);
                throw new Failure(LibC.EPERM, $"cannot open file: {bad}");
            }
            if (errno == LibC.ELOOP) throw new Failure(errno, "cannot open file: file is a symbolic link");
            if (errno != LibC.ENOENT) throw new Failure(errno, $"cannot open file: {LibC.StrError(errno)}");

            fd = LibC.Open(path, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW | LibC.O_NOCTTY, 0x180 /* 0600 */, out errno);
            if (fd < 0)
            {
                if (errno == LibC.EEXIST) continue; // lost a race with another creator: open what is there now
                throw new Failure(errno, $"cannot create file exclusively: {LibC.StrError(errno)}");
            }
            if (chown is { } c && LibC.fchown(fd, c.Uid, c.Gid) < 0)
            {
                errno = LibC.Errno;
                LibC.close(fd);
                LibC.unlink(path);
                throw new Failure(errno, $"cannot change file ownership: {LibC.StrError(errno)}");
            }
            return fd;
        }
        throw new Failure(LibC.EAGAIN, "cannot open file: file was replaced while opening");
    }

    /// <summary>Postfix dot_lockfile(3): <c>path.lock</c> created with O_EXCL; a lock older than
    /// stale_lock_time is removed; gives up after deliver_lock_attempts.</summary>
    private static bool DotLock(string lockPath, Locking locking, bool mayFail)
    {
        for (int attempt = 1; ; attempt++)
        {
            int fd = LibC.Open(lockPath, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW, 0, out int errno);
            if (fd >= 0)
            {
                LibC.close(fd);
                return true;
            }
            if (errno != LibC.EEXIST)
            {
                if (mayFail && errno is LibC.EACCES or LibC.EPERM) return false;
                throw new Failure(errno, $"unable to create lock file {lockPath}: {LibC.StrError(errno)}");
            }
            if (LibC.TryLstat(lockPath, out var st, out _)
                && locking.Clock.GetUtcNow().ToUnixTimeSeconds() - st.MtimeSeconds > (long)locking.StaleLockTime.TotalSeconds)
            {
                LibC.unlink(lockPath); // Postfix: "a stale lock file is removed"
                continue;
            }
            if (attempt >= locking.Attempts)
                throw new Failure(LibC.EAGAIN, $"unable to lock for exclusive access: {LibC.StrError(LibC.EEXIST)}");
            Wait(locking);
        }
    }

    private static void LockFcntl(int fd, Locking locking)
    {
        for (int attempt = 1; ; attempt++)
        {
            if (LibC.TryLockWhole(fd, unlock: false, out int errno)) return;
            if (errno is not (LibC.EAGAIN or LibC.EACCES) || attempt >= locking.Attempts)
                throw new Failure(LibC.EAGAIN, $"unable to lock for exclusive access: {LibC.StrError(errno)}");
            Wait(locking);
        }
    }

    private static void Wait(Locking locking)
    {
        if (locking.Ct.WaitHandle.WaitOne(locking.Delay)) locking.Ct.ThrowIfCancellationRequested();
    }
}
