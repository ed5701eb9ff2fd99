using Microsoft.Win32.SafeHandles;

namespace Posthorn.Store.Mbox;

/// <summary>How long to try for the mbox locks: local(8)'s deliver_lock_attempts, deliver_lock_delay
/// and stale_lock_time, so that the IMAP side gives up when delivery would.</summary>
public sealed record MboxLockOptions(int Attempts, TimeSpan Delay, TimeSpan StaleLockTime)
{
    /// <summary>postconf(5) defaults: 20 attempts, 1 s apart, a dotlock older than 500 s is stale.</summary>
    public static MboxLockOptions Default { get; } = new(20, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(500));
}

/// <summary>The locks local delivery (Posthorn.Mail MboxFile, Postfix mbox_open(3)) and mutt take on
/// a spool mbox: the dotlock <c>PATH.lock</c> (O_EXCL, stale after stale_lock_time) and a whole-file
/// fcntl(2) write lock; readers take only a shared fcntl lock, which a writer's lock excludes.</summary>
/// <remarks>
/// Postfix mailbox_delivery_lock = fcntl, dotlock (the Linux default) is the protocol followed here.
/// The fcntl lock is an open-file-description lock (F_OFD_SETLK): it conflicts with the classic
/// POSIX lock that delivery takes, also when delivery runs in this same process, and it is not lost
/// when another descriptor of the file is closed. Like MboxFile, a busy fcntl lock releases the
/// dotlock before the next attempt, so mutt (which takes them in the other order) never deadlocks with us.
/// The dotlock is mandatory here (delivery into mail_spool_directory requires it too): a spool where
/// we may not create PATH.lock cannot be rewritten safely.
/// A Debian-style spool (/var/mail root:mail, mode 2775) lets only its group create files: when the user may not
/// create or remove PATH.lock there, the thread takes the directory's group as its filesystem gid for that one
/// create or unlink and drops it again — the group Postfix local(8) delivers with in a group-writable spool
/// (Postfix mailbox.c, "use the recipient user id and the mail spool group id"), and what Dovecot's
/// mail_privileged_group is for ("dotlocking"). DEVIATION: Dovecot takes the group from its configuration; here
/// it is the spool directory's own group, as local(8) takes it. Security: only when the directory is writable by
/// its group and not by others; the mbox itself is always opened with the user's own rights; the switch needs
/// CAP_SETGID, which only the daemon's file threads (raised to their saved root) have.
/// </remarks>
internal static class MboxLock
{
    /// <summary>Takes the dotlock and an exclusive fcntl lock on <paramref name="fd"/>; dispose to release both.</summary>
    /// <exception cref="IOException">not obtained within the attempts.</exception>
    public static IDisposable Exclusive(string path, SafeFileHandle fd, MboxLockOptions o, TimeProvider clock, CancellationToken ct)
    {
        string lockPath = path + ".lock";
        for (int attempt = 1; ; attempt++)
        {
            DotLock(lockPath, o, clock, ct);
            if (MboxNative.TryLock(fd, exclusive: true, unlock: false, out int errno))
                return new Held(fd, lockPath);
            Unlink(lockPath);
            if (errno is not (MboxNative.EAGAIN or MboxNative.EACCES) || attempt >= o.Attempts)
                throw new IOException($"unable to lock {path} for exclusive access: {MboxNative.StrError(errno)}");
            Wait(o, ct);
        }
    }

    /// <summary>A shared fcntl lock for reading (no dotlock: a writer holds its fcntl lock for as long as it writes).</summary>
    public static IDisposable Shared(string path, SafeFileHandle fd, MboxLockOptions o, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            if (MboxNative.TryLock(fd, exclusive: false, unlock: false, out int errno)) return new Held(fd, null);
            if (errno is not (MboxNative.EAGAIN or MboxNative.EACCES) || attempt >= o.Attempts)
                throw new IOException($"unable to lock {path} for reading: {MboxNative.StrError(errno)}");
            Wait(o, ct);
        }
    }

    /// <summary>Postfix dot_lockfile(3): <c>path.lock</c> created with O_EXCL; a lock older than
    /// stale_lock_time is removed ("a stale lock file is removed").</summary>
    private static void DotLock(string lockPath, MboxLockOptions o, TimeProvider clock, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            int errno = WithSpoolGroup(lockPath, () =>
            {
                using var h = MboxNative.Open(lockPath, MboxNative.O_WRONLY | MboxNative.O_CREAT | MboxNative.O_EXCL | MboxNative.O_NOFOLLOW,
                    0, out int e);
                return h is null ? e : 0;
            });
            if (errno == 0) return;
            if (errno != MboxNative.EEXIST)
                throw new IOException($"unable to create lock file {lockPath}: {MboxNative.StrError(errno)}");
            if (MboxNative.TryLstat(lockPath, out var st, out _)
                && clock.GetUtcNow().ToUnixTimeSeconds() - st.MtimeNanos / 1_000_000_000 > (long)o.StaleLockTime.TotalSeconds)
            {
                Unlink(lockPath);
                continue;
            }
            if (attempt >= o.Attempts)
                throw new IOException($"unable to lock {lockPath.AsSpan(0, lockPath.Length - 5)} for exclusive access: {MboxNative.StrError(MboxNative.EEXIST)}");
            Wait(o, ct);
        }
    }

    /// <summary>Removes a dotlock (ours, or a stale one), with the spool's group when that is what it takes.</summary>
    private static void Unlink(string lockPath) =>
        WithSpoolGroup(lockPath, () => MboxNative.unlink(lockPath) == 0 ? 0 : MboxNative.Errno);

    /// <summary>Runs <paramref name="op"/> (0, or the errno it failed with) as we are; when the directory refused it
    /// (EACCES, EPERM) and is writable by its group only, once more with that group as the thread's filesystem gid
    /// (see the remarks). Returns the last result.</summary>
    private static int WithSpoolGroup(string lockPath, Func<int> op)
    {
        int errno = op();
        if (errno is not (MboxNative.EACCES or MboxNative.EPERM)) return errno;
        string dir = Path.GetDirectoryName(Path.GetFullPath(lockPath))!;
        // S_IFDIR, S_IWGRP set, S_IWOTH clear: Postfix mailbox.c's test for a group-writable spool.
        if (!MboxNative.TryStat(dir, out var st) || (st.Mode & 0xF000) != 0x4000 || (st.Mode & 0x10) == 0 || (st.Mode & 0x2) != 0)
            return errno;
        if (MboxNative.SwitchFsGid(st.Gid) is not { } previous) return errno;
        try
        {
            return op();
        }
        finally
        {
            MboxNative.RestoreFsGid(previous);
        }
    }

    private static void Wait(MboxLockOptions o, CancellationToken ct)
    {
        if (ct.WaitHandle.WaitOne(o.Delay)) ct.ThrowIfCancellationRequested();
    }

    private sealed class Held(SafeFileHandle fd, string? dotlock) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            if (!fd.IsClosed) MboxNative.TryLock(fd, exclusive: false, unlock: true, out _);
            if (dotlock is not null) Unlink(dotlock);
        }
    }
}
