using System.Runtime.InteropServices;
using Posthorn.Mail.Delivery;

namespace Posthorn.Mail.Auth;

/// <summary>System accounts: the hash from the shadow database via getspnam_r(3), checked by crypt(3)
/// (Dovecot's <c>passdb { driver = shadow }</c>); home, uid and gid from getpwnam(3) (<c>userdb { driver = passwd }</c>).</summary>
/// <remarks>Only root can read /etc/shadow; for anyone else every lookup is a temporary failure.
/// A locked account ("!" or "*" hashes) never matches, because crypt(3) refuses such a setting.</remarks>
public sealed partial class SystemPasswordDatabase(IUserDatabase? accounts = null) : IPasswordDatabase
{
    private const int ERANGE = 34;

    private readonly IUserDatabase _accounts = accounts ?? new PasswdUserDatabase();

    public ValueTask<AuthResult> VerifyAsync(string user, string password, CancellationToken ct)
    {
        if (user.Length == 0 || user.Contains('\0')) return ValueTask.FromResult(AuthResult.Failure);
        var (found, hash) = ShadowHash(user);
        if (!found) return ValueTask.FromResult(hash is null ? AuthResult.Failure : AuthResult.TemporaryFailure);
        return ValueTask.FromResult(Crypt.Verify(password, hash!) ? AuthResult.Success : AuthResult.Failure);
    }

    public async ValueTask<UserLookup> LoginAsync(string user, string password, CancellationToken ct)
    {
        var result = await VerifyAsync(user, password, ct);
        if (result != AuthResult.Success) return new UserLookup(result, null);
        // The shadow entry matched but there is no passwd entry (inconsistent databases): no login.
        return await FindAsync(user, ct) is { Result: AuthResult.Success } found ? found : UserLookup.TemporaryFailure;
    }

    public ValueTask<UserLookup> FindAsync(string user, CancellationToken ct)
    {
        if (user.Length == 0 || user.Contains('\0') || !_accounts.TryGetUser(user, out var account))
            return ValueTask.FromResult(UserLookup.Failure);
        return ValueTask.FromResult(new UserLookup(AuthResult.Success, new MailUser(account.Name, account.Uid, account.Gid, account.Home)));
    }

    /// <summary>(true, hash) for a user with a shadow entry; (false, null) for none;
    /// (false, "") when the database could not be read (not root, ERANGE beyond 1 MiB).</summary>
    private static unsafe (bool Found, string? Hash) ShadowHash(string user)
    {
        for (int size = 1024; size <= 1 << 20; size *= 4)
        {
            byte[] buffer = new byte[size];
            Spwd entry;
            Spwd* result = null;
            int rc;
            fixed (byte* b = buffer)
            {
                rc = getspnam_r(user, &entry, b, (nuint)size, &result);
                if (rc == 0 && result != null) return (true, Marshal.PtrToStringUTF8(entry.Password) ?? "");
            }
            if (rc == ERANGE) continue;
            // glibc: ENOENT (or 0 with no result) for no such user; EACCES when /etc/shadow is not readable.
            return rc is 0 or 2 ? (false, null) : (false, "");
        }
        return (false, "");
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int getspnam_r(string name, Spwd* spbuf, byte* buf, nuint buflen, Spwd** result);

    /// <summary>struct spwd on LP64 Linux: two pointers, six longs, one unsigned long.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Spwd
    {
        public nint Name, Password;
        public long LastChange, Min, Max, Warn, Inactive, Expire;
        public ulong Flag;
    }
}
