using System.Runtime.InteropServices;

namespace Posthorn.Mail.Delivery;

/// <summary>The system's account database through getpwnam_r(3) and getpwuid_r(3), so that every
/// NSS source (files, LDAP, sssd, systemd-userdb) counts, as with Postfix's <c>unix:passwd.byname</c>.</summary>
public sealed class PasswdUserDatabase : IUserDatabase
{
    public unsafe bool TryGetUser(string name, out SystemUser user)
    {
        user = null!;
        if (name.Length == 0 || name.Contains('\0')) return false;
        return Lookup((pwd, b, size, result) => LibC.getpwnam_r(name, pwd, b, size, result), name, out user);
    }

    public unsafe bool TryGetUserById(int uid, out SystemUser user) =>
        Lookup((pwd, b, size, result) => LibC.getpwuid_r((uint)uid, pwd, b, size, result), "", out user);

    private unsafe delegate int GetPw(LibC.Passwd* pwd, byte* buf, nuint size, LibC.Passwd** result);

    private static unsafe bool Lookup(GetPw call, string fallbackName, out SystemUser user)
    {
        user = null!;
        for (int size = 1024; size <= 1 << 20; size *= 4)
        {
            byte[] buffer = new byte[size];
            LibC.Passwd pwd;
            LibC.Passwd* result = null;
            fixed (byte* b = buffer)
            {
                int rc = call(&pwd, b, (nuint)size, &result);
                if (rc == LibC.ERANGE) continue;
                if (rc != 0 || result == null) return false;
                // The strings live in buffer: copy them out while it is pinned.
                user = new SystemUser(
                    Marshal.PtrToStringUTF8(pwd.Name) ?? fallbackName, (int)pwd.Uid, (int)pwd.Gid,
                    Marshal.PtrToStringUTF8(pwd.Dir) ?? "/", Marshal.PtrToStringUTF8(pwd.Shell) ?? "");
                return true;
            }
        }
        return false;
    }
}
