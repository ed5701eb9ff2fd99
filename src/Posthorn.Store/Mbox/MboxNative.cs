using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Posthorn.Store.Mbox;

/// <summary>The libc calls the mbox INBOX (and the Maildir's bulk reads) need that .NET does not expose: open(2) without
/// .NET's flock(2) emulation, pread(2) on such a descriptor, fcntl(2) open-file-description locks, statx(2) (inode, owner, mode) and the
/// fsync of a directory. Linux only (x86_64 and aarch64 layouts).</summary>
internal static partial class MboxNative
{
    private const string Lib = "libc";

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_NOCTTY = 0x100,
        O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000;
    public const int ENOENT = 2, ENOTDIR = 20, EINTR = 4, EAGAIN = 11, EACCES = 13, EEXIST = 17, EPERM = 1, EROFS = 30;
    // <fcntl.h>: F_OFD_SETLK (Linux 3.15). Open-file-description locks conflict with classic POSIX
    // record locks, also those of the same process (fcntl(2) "Open file description locks").
    private const int F_OFD_SETLK = 37;
    private const short F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
    private const int AT_FDCWD = -100, AT_EMPTY_PATH = 0x1000, AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_BASIC_STATS = 0x7ff;

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenRaw(string path, int flags, uint mode);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int unlink(string path);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int rename(string from, string to);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchown(int fd, uint uid, uint gid);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchmod(int fd, uint mode);
    [LibraryImport(Lib, SetLastError = true)] public static partial uint geteuid();
    [LibraryImport(Lib, SetLastError = true)] private static partial int fsync(int fd);
    [LibraryImport(Lib)] private static partial int posix_fadvise(int fd, long offset, long len, int advice);
    [LibraryImport(Lib, EntryPoint = "pread", SetLastError = true)] private static unsafe partial nint PreadRaw(int fd, byte* buf, nuint count, long offset);
    [LibraryImport(Lib)] private static partial int setfsgid(uint gid);
    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    private static unsafe partial int FcntlLock(int fd, int cmd, Flock* lk);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buf);

    /// <summary>struct flock on LP64 Linux; l_pid must be 0 for OFD locks.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type, Whence;
        public long Start, Len;
        public int Pid;
    }

    /// <summary>What the mbox code needs from stat(2).</summary>
    public readonly record struct FileStat(uint Mode, uint Uid, uint Gid, uint Links, long Size, long MtimeNanos, ulong Inode)
    {
        public bool IsRegular => (Mode & 0xF000) == 0x8000;
    }

    public static int Errno => Marshal.GetLastPInvokeError();

    public static string StrError(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>open(2) with O_CLOEXEC, retried on EINTR; null with <paramref name="errno"/> on failure.</summary>
    public static SafeFileHandle? Open(string path, int flags, uint mode, out int errno)
    {
        while (true)
        {
            int fd = OpenRaw(path, flags | O_CLOEXEC, mode);
            errno = fd < 0 ? Errno : 0;
            if (fd >= 0) return new SafeFileHandle(fd, ownsHandle: true);
            if (errno != EINTR) return null;
        }
    }

    /// <summary>fcntl(F_OFD_SETLK) on the whole file: a shared (read) or exclusive lock, or unlock;
    /// false with errno when another holder conflicts.</summary>
    public static unsafe bool TryLock(SafeFileHandle fd, bool exclusive, bool unlock, out int errno)
    {
        var lk = new Flock { Type = unlock ? F_UNLCK : exclusive ? F_WRLCK : F_RDLCK, Whence = 0, Start = 0, Len = 0 };
        int rc = FcntlLock((int)fd.DangerousGetHandle(), F_OFD_SETLK, &lk);
        errno = rc < 0 ? Errno : 0;
        return rc == 0;
    }

    /// <summary>posix_fadvise(POSIX_FADV_WILLNEED) on the first <paramref name="length"/> octets: the kernel starts
    /// reading them into the page cache and returns at once. A hint: a failure changes nothing but speed.</summary>
    public static void WillNeed(SafeFileHandle fd, long length) => posix_fadvise((int)fd.DangerousGetHandle(), 0, length, 3 /* POSIX_FADV_WILLNEED */);

    /// <summary>pread(2), retried on EINTR: octets read (0 at the end of the file), or -1 with <paramref name="errno"/>.</summary>
    public static unsafe int Pread(SafeFileHandle fd, Span<byte> buffer, long offset, out int errno)
    {
        fixed (byte* b = buffer)
        {
            while (true)
            {
                nint n = PreadRaw((int)fd.DangerousGetHandle(), b, (nuint)buffer.Length, offset);
                errno = n < 0 ? Errno : 0;
                if (n >= 0 || errno != EINTR) return (int)n;
            }
        }
    }

    public static bool TryFstat(SafeFileHandle fd, out FileStat st) => TryStatx((int)fd.DangerousGetHandle(), "", AT_EMPTY_PATH, out st, out _);

    public static bool TryLstat(string path, out FileStat st, out int errno) => TryStatx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, out st, out errno);

    /// <summary>stat(2): follows a symbolic link (a spool reached through /var/mail → spool/mail).</summary>
    public static bool TryStat(string path, out FileStat st) => TryStatx(AT_FDCWD, path, 0, out st, out _);

    /// <summary>setfsgid(2) on the calling thread only (a raw system call in glibc, unlike setgid): returns the
    /// previous filesystem gid to give back to <see cref="RestoreFsGid"/>, or null when the kernel refused (no
    /// CAP_SETGID, and <paramref name="gid"/> is none of the thread's own gids).</summary>
    public static uint? SwitchFsGid(uint gid)
    {
        uint previous = (uint)setfsgid(gid);
        // setfsgid cannot report failure; an invalid id changes nothing and reads the current value back.
        if ((uint)setfsgid(uint.MaxValue) == gid) return previous;
        return null;
    }

    public static void RestoreFsGid(uint previous) => setfsgid(previous);

    private static unsafe bool TryStatx(int dirfd, string path, int flags, out FileStat st, out int errno)
    {
        byte* b = stackalloc byte[256];
        new Span<byte>(b, 256).Clear();
        if (statx(dirfd, path, flags, STATX_BASIC_STATS, b) < 0)
        {
            errno = Errno;
            st = default;
            return false;
        }
        errno = 0;
        // struct statx: nlink @16, uid @20, gid @24, mode @28 (u16), ino @32, size @40,
        // mtime {i64 tv_sec, u32 tv_nsec} @112.
        long mtime = *(long*)(b + 112) * 1_000_000_000 + *(uint*)(b + 120);
        st = new FileStat(*(ushort*)(b + 28), *(uint*)(b + 20), *(uint*)(b + 24), *(uint*)(b + 16), *(long*)(b + 40),
            mtime, *(ulong*)(b + 32));
        return true;
    }

    /// <summary>fsync(2) of a directory, so that a rename in it is durable.</summary>
    public static void FsyncDirectory(string dir)
    {
        using var h = Open(dir, O_RDONLY | O_DIRECTORY, 0, out _);
        if (h is not null) fsync((int)h.DangerousGetHandle());
    }
}
