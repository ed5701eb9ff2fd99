using System.Runtime.InteropServices;
using Posthorn.Config;
using Posthorn.Mail.Delivery;

namespace Posthorn.Daemon.Tools;

/// <summary><c>postfix check</c> and <c>postfix set-permissions</c>: the queue and data directories exist, belong to
/// mail_owner and have their modes (Postfix postfix-files, as far as Posthorn uses those directories).</summary>
/// <remarks>
/// Postfix postfix-files: the queue subdirectories are <c>$mail_owner</c>, mode 0700 ("ucr": created, and their
/// files chowned recursively); data_directory is <c>$mail_owner</c>, 0700; pid is root, 0755.
/// Postfix postfix-script check-warn words its warnings "not owned by $mail_owner: path" and
/// "group or other writable: path".
/// DEVIATION: maildrop is 0700 mail_owner, not 0730 with group setgid_group: Posthorn has no setgid postdrop, its
/// sendmail writes maildrop directly. public/ is not made: Posthorn's control socket is in private/.
/// pid belongs to mail_owner (Posthorn's master writes master.pid after it drops to mail_owner); only
/// group- or other-writable is wrong there. The queue directory itself is left as it is (the daemon hands it to
/// mail_owner at start), except that it is created when missing.
/// Security: when fixing, runs chown/chmod as root on paths under queue_directory and data_directory only;
/// lchown, so a symbolic link planted in a queue is never followed.
/// </remarks>
public static partial class PostfixCheck
{
    private const UnixFileMode Mode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode GroupOrOtherWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>The queue subdirectories Posthorn uses, and whether their files belong to mail_owner too ("r").</summary>
    private static readonly (string Name, bool Recursive)[] QueueSubdirectories =
    [
        ("maildrop", false), ("incoming", true), ("active", true), ("deferred", true), ("hold", true), ("corrupt", true),
        ("defer", true), ("bounce", true), ("tmp", true), ("private", false),
    ];

    /// <summary>Checks (and with <paramref name="fix"/>, repairs) ownership and modes. Warnings go to
    /// <paramref name="warnings"/>, what was changed to <paramref name="changes"/>.</summary>
    internal static void Permissions(ConfigSnapshot cfg, bool fix, List<string> warnings, List<string> changes)
    {
        string owner = cfg.Get("mail_owner");
        var users = new PasswdUserDatabase();
        if (!users.TryGetUser(owner, out var user)) return; // reported as fatal by the caller.
        string queue = cfg.Get("queue_directory");
        if (!Path.IsPathRooted(queue)) return;
        if (!Directory.Exists(queue))
        {
            if (!fix) return; // the caller has warned about queue_directory already.
            Directory.CreateDirectory(queue);
            File.SetUnixFileMode(queue, Mode0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            changes.Add($"created missing directory: {queue}");
        }
        var rule = new Rule(owner, (uint)user.Uid, (uint)user.Gid, fix, warnings, changes, users);
        foreach (var (name, recursive) in QueueSubdirectories)
            rule.Directory(Path.Combine(queue, name), Mode0700, recursive);
        rule.Directory(Path.Combine(queue, "pid"), null, false);
        string data = cfg.Get("data_directory");
        if (Path.IsPathRooted(data))
            rule.Directory(data, Mode0700, false);
    }

    private sealed class Rule(string owner, uint uid, uint gid, bool fix, List<string> warnings, List<string> changes, IUserDatabase users)
    {
        /// <summary>One directory: exists, owned by mail_owner, mode <paramref name="mode"/> (null: not group- or
        /// other-writable); with <paramref name="recursive"/>, every entry below is owned by mail_owner too.</summary>
        public void Directory(string path, UnixFileMode? mode, bool recursive)
        {
            if (!System.IO.Directory.Exists(path))
            {
                if (!fix)
                {
                    warnings.Add($"missing directory: {path}");
                    return;
                }
                System.IO.Directory.CreateDirectory(path);
                File.SetUnixFileMode(path, mode ?? Mode0700);
                if (lchown(path, uid, gid) != 0) warnings.Add($"cannot change owner of {path} to {owner}: errno {Marshal.GetLastPInvokeError()}");
                changes.Add($"created missing directory: {path}");
                return;
            }
            Owner(path);
            var actual = File.GetUnixFileMode(path);
            bool wrong = mode is { } m ? actual != m : (actual & GroupOrOtherWrite) != 0;
            if (wrong)
            {
                var wanted = mode ?? (actual & ~GroupOrOtherWrite);
                if (!fix)
                    warnings.Add(mode is null ? $"group or other writable: {path}" : $"mode {Octal(actual)} is not {Octal(wanted)}: {path}");
                else
                {
                    File.SetUnixFileMode(path, wanted);
                    changes.Add($"changed mode of {path} from {Octal(actual)} to {Octal(wanted)}");
                }
            }
            if (!recursive) return;
            foreach (string entry in System.IO.Directory.EnumerateFileSystemEntries(path, "*", new EnumerationOptions
                     { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }))
                Owner(entry);
        }

        private void Owner(string path)
        {
            if (OwnerOf(path) is not { } actual || actual == uid) return;
            if (!fix)
            {
                // Postfix postfix-script check-warn.
                warnings.Add($"not owned by {owner}: {path}");
                return;
            }
            if (lchown(path, uid, gid) != 0)
            {
                warnings.Add($"cannot change owner of {path} to {owner}: errno {Marshal.GetLastPInvokeError()}");
                return;
            }
            string was = users.TryGetUserById((int)actual, out var u) ? u.Name : actual.ToString(System.Globalization.CultureInfo.InvariantCulture);
            changes.Add($"changed owner of {path} from {was} to {owner}");
        }
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xFFF, 8).PadLeft(3, '0');

    /// <summary>The owner uid of <paramref name="path"/> (not following a symbolic link), by statx(2), whose
    /// layout is the same on every Linux architecture (stx_uid at offset 20); null when it cannot be read.</summary>
    private static unsafe uint? OwnerOf(string path)
    {
        const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100;
        const uint StatxUid = 0x8;
        byte* buf = stackalloc byte[256];
        new Span<byte>(buf, 256).Clear();
        return statx(AtFdCwd, path, AtSymlinkNoFollow, StatxUid, buf) == 0 ? *(uint*)(buf + 20) : null;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buf);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, uint uid, uint gid);
}
