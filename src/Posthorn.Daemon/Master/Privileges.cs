using System.Runtime.InteropServices;
using Posthorn.Config;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;

namespace Posthorn.Daemon.Master;

/// <summary>DESIGN.md decision 6: started as root, the daemon binds its ports and then works as mail_owner.</summary>
/// <remarks>
/// Security: after <see cref="DropToMailOwner"/> every thread runs with real and effective ids of
/// mail_owner and only mail_owner's group. The saved set-user-ID stays 0 so that a dedicated local
/// delivery thread can become root again for itself alone (see Posthorn.Mail.Delivery's
/// ThreadCredentials) and write each mailbox as its recipient.
/// DEVIATION: Postfix separates these roles into processes (smtpd as postfix, local as root); a
/// single process that keeps root as its saved id protects against mistakes in file handling by
/// network code, not against code execution inside the process.
/// Parameters: mail_owner, queue_directory, data_directory.
/// </remarks>
internal static partial class Privileges
{
    [LibraryImport("libc", SetLastError = true)] private static partial uint geteuid();
    [LibraryImport("libc", SetLastError = true)] private static partial int setgroups(nint size, uint[] list);
    [LibraryImport("libc", SetLastError = true)] private static partial int setresgid(uint r, uint e, uint s);
    [LibraryImport("libc", SetLastError = true)] private static partial int setresuid(uint r, uint e, uint s);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, uint uid, uint gid);

    public static bool IsRoot => geteuid() == 0;

    /// <summary>Hands the queue to mail_owner (as <c>postfix set-permissions</c> would) and drops to it.
    /// Returns an error text, or null when done or when there is nothing to drop.</summary>
    public static string? DropToMailOwner(ConfigSnapshot cfg, IUserDatabase users, MailLog log)
    {
        if (!IsRoot) return null;
        string owner = cfg.Get("mail_owner");
        if (!users.TryGetUser(owner, out var user)) return $"mail_owner: unknown user name value: {owner}";
        if (user.Uid == 0)
        {
            // Postfix refuses this outright; Posthorn runs on as root (tests and demos run as root in CI) and says so.
            log.Warning("master", $"mail_owner {owner} has privileged user ID; not dropping privileges");
            return null;
        }
        uint uid = (uint)user.Uid, gid = (uint)user.Gid;
        foreach (var dir in new[] { cfg.Get("queue_directory"), cfg.Get("data_directory") })
            if (Directory.Exists(dir)) ChownTree(dir, uid, gid);

        // Order matters: groups and gid while still root, then the uid (saved uid stays 0).
        if (setgroups(1, [gid]) != 0 || setresgid(gid, gid, 0) != 0 || setresuid(uid, uid, 0) != 0)
            return $"cannot change to mail_owner {owner}: errno {Marshal.GetLastPInvokeError()}";
        return geteuid() == uid ? null : $"cannot change to mail_owner {owner}";
    }

    private static void ChownTree(string dir, uint uid, uint gid)
    {
        lchown(dir, uid, gid);
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions
                 { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }))
            lchown(entry, uid, gid);
    }
}
