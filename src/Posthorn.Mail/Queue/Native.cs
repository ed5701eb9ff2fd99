using System.Runtime.InteropServices;

namespace Posthorn.Mail.Queue;

/// <summary>The few libc calls the queue needs that .NET does not offer: directory fsync,
/// rename without replacing, and the caller's uid.</summary>
/// <remarks>Linux only (glibc or musl). Every call reports failure through errno, turned into an
/// <see cref="IOException"/> that names the path, as Postfix's msg_fatal("... %m") would.</remarks>
internal static partial class Native
{
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY = 0x10000;   // Linux value on x86-64 and arm64
    private const int O_CLOEXEC = 0x80000;
    private const int AT_FDCWD = -100;
    private const uint RENAME_NOREPLACE = 1;
    internal const int EEXIST = 17;
    private const int EINVAL = 22;
    private const int ENOSYS = 38;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string oldpath, string newpath);

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(int fd, long offset, long nbytes, uint flags);

    private const uint SYNC_FILE_RANGE_WRITE = 2;

    [LibraryImport("libc", EntryPoint = "getuid")]
    internal static partial uint GetUid();

    /// <summary>fsync(2) on a directory, so that the names created or renamed in it are durable.</summary>
    /// <remarks>File.OpenHandle refuses directories on Linux (it reports access denied), hence
    /// open(O_RDONLY|O_DIRECTORY) through libc.</remarks>
    public static void FsyncDirectory(string directory)
    {
        int fd = Open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw Error("open directory", directory);
        try
        {
            if (Fsync(fd) < 0) throw Error("fsync directory", directory);
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>Deletes a file that may be missing with one unlink(2); a missing file (or directory) is not an error.</summary>
    /// <remarks>File.Delete follows an ENOENT with a stat(2) of the directory, to tell a missing directory (which it
    /// reports) from a missing file; the defer and bounce logs and the warning marker are missing for nearly every
    /// message qmgr removes, so that was three more system calls per delivered message. Any other error is left to
    /// File.Delete, which reports it as .NET does (access denied, a directory, …).</remarks>
    public static void DeleteIfPresent(string path)
    {
        if (Delivery.LibC.unlink(path) == 0 || Delivery.LibC.Errno == Delivery.LibC.ENOENT) return;
        File.Delete(path);
    }

    /// <summary>Starts writeback of a file's dirty pages without waiting (sync_file_range(2)
    /// SYNC_FILE_RANGE_WRITE). Only a hint that lets several files share one journal commit: it makes
    /// nothing durable, so a failure is ignored here and reported by the fsync(2) that follows.</summary>
    public static void StartWriteback(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            SyncFileRange((int)file.DangerousGetHandle(), 0, 0, SYNC_FILE_RANGE_WRITE);
        }
        catch (EntryPointNotFoundException)
        {
            // A libc without sync_file_range: the fsync does all the work.
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    /// <summary>Atomically gives <paramref name="from"/> the name <paramref name="to"/>; fails with
    /// EEXIST instead of replacing an existing file.</summary>
    /// <remarks>renameat2(RENAME_NOREPLACE) where the kernel and file system support it; otherwise
    /// link(2) + unlink(2), which is equally atomic for the new name (a crash in between leaves an
    /// extra name in the temporary area, which is harmless).</remarks>
    public static void RenameNoReplace(string from, string to)
    {
        int errno;
        try
        {
            if (RenameAt2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return;
            errno = Marshal.GetLastPInvokeError();
        }
        catch (EntryPointNotFoundException)
        {
            errno = ENOSYS;   // a libc older than glibc 2.28
        }
        if (errno is not (EINVAL or ENOSYS)) throw Error("rename", $"{from} as {to}", errno);
        if (Link(from, to) < 0) throw Error("link", $"{from} as {to}");
        File.Delete(from);
    }

    private static IOException Error(string what, string path) => Error(what, path, Marshal.GetLastPInvokeError());

    private static IOException Error(string what, string path, int errno) =>
        new($"{what} {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
}

/// <summary>The identity of the invoking user, as sendmail(1) records it for pickup(8) (<c>uid=N</c>).</summary>
public static class UnixUser
{
    /// <summary>getuid(2): the real user id of this process.</summary>
    public static uint RealUserId() => Native.GetUid();
}
