using System.Runtime.InteropServices;

namespace Posthorn.Mail.Delivery;

/// <summary>Per-thread effective ids for a daemon that runs as mail_owner but kept root as its
/// saved set-user-ID (DESIGN.md decision 6, see Posthorn.Daemon's Privileges).</summary>
/// <remarks>
/// Security: Linux keeps credentials per thread; glibc's set*id wrappers change every thread, the
/// raw system calls only the caller. A dedicated delivery thread raises its effective uid/gid to 0
/// (allowed because the saved ids are 0; capabilities return from the permitted set), switches its
/// filesystem identity to the recipient, and lowers itself again when the delivery ends. Network
/// threads never hold root. Linux x86_64 and aarch64 only.
/// </remarks>
internal static partial class ThreadCredentials
{
    [LibraryImport("libc", SetLastError = true)] private static partial long syscall(long number, long a, long b, long c);
    [LibraryImport("libc", SetLastError = true)] private static partial int getresuid(out uint r, out uint e, out uint s);
    [LibraryImport("libc", SetLastError = true)] private static partial int getresgid(out uint r, out uint e, out uint s);

    private static (long SetResUid, long SetResGid) Numbers => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => (117, 119),
        Architecture.Arm64 => (147, 149),
        _ => (-1, -1),
    };

    /// <summary>The ids a raised thread returns to.</summary>
    public readonly record struct Lowered(uint Uid, uint Gid);

    /// <summary>On the calling thread only: effective uid/gid 0 when the process runs unprivileged with
    /// saved ids 0. Returns null when there was nothing to raise (already root, or never root).</summary>
    public static Lowered? RaiseToSavedRoot()
    {
        if (getresuid(out _, out uint euid, out uint suid) != 0 || euid == 0 || suid != 0) return null;
        if (getresgid(out _, out uint egid, out _) != 0) return null;
        var (uidCall, gidCall) = Numbers;
        if (uidCall < 0) return null;
        // Order matters: the uid first (regains CAP_SETGID), then the gid.
        if (syscall(uidCall, -1, 0, -1) != 0) return null;
        syscall(gidCall, -1, 0, -1);
        return new Lowered(euid, egid);
    }

    /// <summary>Undoes <see cref="RaiseToSavedRoot"/> on the calling thread.</summary>
    public static void Lower(Lowered to)
    {
        var (uidCall, gidCall) = Numbers;
        syscall(gidCall, -1, to.Gid, -1);   // the gid while still privileged
        syscall(uidCall, -1, to.Uid, -1);
    }
}
