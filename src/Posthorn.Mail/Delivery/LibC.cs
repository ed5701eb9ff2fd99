using System.Runtime.InteropServices;

namespace Posthorn.Mail.Delivery;

/// <summary>The few libc calls local delivery needs that .NET does not expose: per-thread
/// filesystem identity, open(2) without .NET's flock emulation, fcntl(2) record locks, fchown,
/// statx (owner and link count) and getpwnam_r. Linux only (x86_64 and aarch64 layouts).</summary>
internal static partial class LibC
{
    private const string Lib = "libc";

    // <fcntl.h>, identical on x86_64 and aarch64 Linux.
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_NOCTTY = 0x100,
        O_TRUNC = 0x200, O_APPEND = 0x400, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000;
    public const int F_SETLK = 6;
    public const short F_WRLCK = 1, F_UNLCK = 2;
    public const int ENOENT = 2, EINTR = 4, EACCES = 13, EEXIST = 17, EFBIG = 27, ENOSPC = 28, ELOOP = 40,
        EAGAIN = 11, EPERM = 1, ERANGE = 34, EDQUOT = 122;
    /// <summary>open(2) O_TMPFILE (__O_TMPFILE | O_DIRECTORY): a file without a name in the directory given.</summary>
    public const int O_TMPFILE = 0x400000 | O_DIRECTORY;
    public const int EISDIR = 21, EINVAL = 22, EOPNOTSUPP = 95;
    private const int AT_FDCWD = -100, AT_EMPTY_PATH = 0x1000, AT_SYMLINK_NOFOLLOW = 0x100, AT_SYMLINK_FOLLOW = 0x400;
    private const uint STATX_BASIC_STATS = 0x7ff;

    [LibraryImport(Lib, SetLastError = true)] public static partial uint geteuid();
    [LibraryImport(Lib, SetLastError = true)] public static partial uint getegid();
    [LibraryImport(Lib)] public static partial int setfsuid(uint uid);
    [LibraryImport(Lib)] public static partial int setfsgid(uint gid);
    [LibraryImport(Lib, SetLastError = true)] public static partial int getgroups(int size, [Out] uint[]? list);
    [LibraryImport(Lib, SetLastError = true)] private static partial long syscall(long number, long a, uint[] b);

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenRaw(string path, int flags, uint mode);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int unlink(string path);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int mkdir(string path, uint mode);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int rename(string from, string to);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int linkat(int olddirfd, string oldpath, int newdirfd, string newpath, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchown(int fd, uint uid, uint gid);
    [LibraryImport(Lib, SetLastError = true)] public static partial int ftruncate(int fd, long length);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fsync(int fd);
    [LibraryImport(Lib, SetLastError = true)] public static partial int close(int fd);
    [LibraryImport(Lib, SetLastError = true)] private static unsafe partial nint pwrite(int fd, byte* buf, nuint count, long offset);
    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    private static unsafe partial int FcntlLock(int fd, int cmd, Flock* lk);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buf);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int getpwnam_r(string name, Passwd* pwd, byte* buf, nuint buflen, Passwd** result);
    [LibraryImport(Lib, SetLastError = true)]
    public static unsafe partial int getpwuid_r(uint uid, Passwd* pwd, byte* buf, nuint buflen, Passwd** result);

    /// <summary>struct passwd on LP64 Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Passwd
    {
        public nint Name, Password;
        public uint Uid, Gid;
        public nint Gecos, Dir, Shell;
    }

    /// <summary>struct flock on LP64 Linux: short type, short whence, off_t start, off_t len, pid_t pid.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type, Whence;
        public long Start, Len;
        public int Pid;
    }

    /// <summary>What local delivery needs from stat(2).</summary>
    public readonly record struct FileStat(uint Mode, uint Uid, uint Gid, uint Links, long Size, long MtimeSeconds, ulong Inode)
    {
        public bool IsRegular => (Mode & 0xF000) == 0x8000;
        public bool IsDirectory => (Mode & 0xF000) == 0x4000;
    }

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>strerror(3) text, as Postfix's %m prints it.</summary>
    public static string StrError(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    public static bool IsRoot => geteuid() == 0;

    /// <summary>Gives the nameless file open as <paramref name="fd"/> (an O_TMPFILE) the name <paramref name="path"/>, never
    /// replacing a file: linkat(2) of /proc/self/fd/N with AT_SYMLINK_FOLLOW, which needs no capability (the
    /// AT_EMPTY_PATH form needs CAP_DAC_READ_SEARCH). Returns 0 or -1 with errno set.</summary>
    public static int LinkNameless(int fd, string path) => linkat(AT_FDCWD, $"/proc/self/fd/{fd}", AT_FDCWD, path, AT_SYMLINK_FOLLOW);

    /// <summary>open(2), retried on EINTR; returns the fd or -1 with <paramref name="errno"/> set.</summary>
    public static int Open(string path, int flags, uint mode, out int errno)
    {
        while (true)
        {
            int fd = OpenRaw(path, flags | O_CLOEXEC, mode);
            errno = fd < 0 ? Errno : 0;
            if (fd >= 0 || errno != EINTR) return fd;
        }
    }

    /// <summary>pwrite(2) of the whole span, retried on EINTR and short writes; false with errno on failure.</summary>
    public static unsafe bool TryWriteAll(int fd, ReadOnlySpan<byte> data, long offset, out int errno)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = pwrite(fd, p + done, (nuint)(data.Length - done), offset + done);
                if (n < 0)
                {
                    errno = Errno;
                    if (errno == EINTR) continue;
                    return false;
                }
                done += (int)n;
            }
        }
        errno = 0;
        return true;
    }

    /// <summary>fcntl(F_SETLK) on the whole file; false with errno when another process holds a lock.</summary>
    public static unsafe bool TryLockWhole(int fd, bool unlock, out int errno)
    {
        var lk = new Flock { Type = unlock ? F_UNLCK : F_WRLCK, Whence = 0, Start = 0, Len = 0 };
        int rc = FcntlLock(fd, F_SETLK, &lk);
        errno = rc < 0 ? Errno : 0;
        return rc == 0;
    }

    /// <summary>fstat(2) by way of statx(2), whose layout is the same on every Linux architecture.</summary>
    public static bool TryFstat(int fd, out FileStat st, out int errno) => TryStatx(fd, "", AT_EMPTY_PATH, out st, out errno);

    /// <summary>stat(2) by way of statx(2).</summary>
    public static bool TryStat(string path, out FileStat st, out int errno) => TryStatx(AT_FDCWD, path, 0, out st, out errno);

    /// <summary>lstat(2) by way of statx(2).</summary>
    public static bool TryLstat(string path, out FileStat st, out int errno) => TryStatx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, out st, out errno);

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
        // struct statx: nlink @16, uid @20, gid @24, mode @28 (u16), ino @32, size @40, mtime.tv_sec @112.
        st = new FileStat(*(ushort*)(b + 28), *(uint*)(b + 20), *(uint*)(b + 24), *(uint*)(b + 16), *(long*)(b + 40),
            *(long*)(b + 112), *(ulong*)(b + 32));
        return true;
    }

    /// <summary>The raw setgroups(2) system call, which (unlike glibc's wrapper) changes only the
    /// calling thread's supplementary groups.</summary>
    public static bool SetThreadGroups(uint[] groups)
    {
        long nr = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 116,
            Architecture.Arm64 => 159,
            _ => -1,
        };
        if (nr < 0) return false;
        return syscall(nr, groups.Length, groups) == 0;
    }
}
