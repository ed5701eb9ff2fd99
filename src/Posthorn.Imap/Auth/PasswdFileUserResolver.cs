using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Posthorn.Imap.Auth;

/// <summary>A Dovecot-style passwd-file: <c>user:{SCHEME}hash:uid:gid:gecos:home:shell:extra</c>.</summary>
/// <remarks>
/// Schemes: PLAIN (tests and demos), and the crypt(3) family through libcrypt — SHA512-CRYPT
/// (<c>$6$</c>), SHA256-CRYPT (<c>$5$</c>), BLF-CRYPT (<c>$2y$</c>) and CRYPT — which is what
/// <c>doveadm pw</c> writes. A hash without a {SCHEME} prefix is treated as CRYPT, as Dovecot's
/// default_pass_scheme does for passwd-files. Empty lines and lines starting with "#" are skipped.
/// The file is read at each login, so edits take effect without a reload.
/// The Maildir is <c>home/</c> + <paramref name="homeMailbox"/> (Postfix home_mailbox, e.g. "Maildir/").
/// Security: comparisons run in constant time; passwords are never logged.
/// </remarks>
public sealed partial class PasswdFileUserResolver(string path, string homeMailbox = "Maildir/") : IImapUserResolver
{
    public async ValueTask<ImapUser?> AuthenticateAsync(string user, string password, CancellationToken ct)
    {
        if (user.Length == 0 || user.Contains(':') || !File.Exists(path)) return null;
        foreach (var line in await File.ReadAllLinesAsync(path, ct))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var fields = line.Split(':');
            if (fields.Length < 2 || fields[0] != user) continue;
            if (!Verify(password, fields[1])) return null;
            string home = fields.Length > 5 ? fields[5] : "";
            if (home.Length == 0) return null;
            return new ImapUser(user, Path.Combine(home, homeMailbox));
        }
        return null;
    }

    /// <summary>Checks a password against a <c>{SCHEME}value</c> entry.</summary>
    public static bool Verify(string password, string entry)
    {
        string scheme = "CRYPT", value = entry;
        if (entry.StartsWith('{') && entry.IndexOf('}') is int close and > 0)
        {
            scheme = entry[1..close].ToUpperInvariant();
            value = entry[(close + 1)..];
        }
        switch (scheme)
        {
            case "PLAIN":
            case "CLEARTEXT":
                return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(password), Encoding.UTF8.GetBytes(value));
            case "CRYPT":
            case "SHA512-CRYPT":
            case "SHA256-CRYPT":
            case "BLF-CRYPT":
            case "MD5-CRYPT":
                string? computed = Crypt(password, value);
                return computed is not null && computed.Length == value.Length
                    && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(computed), Encoding.ASCII.GetBytes(value));
            default:
                return false;
        }
    }

    /// <summary>crypt(3) with the hash as setting; null if libcrypt refuses it.</summary>
    public static unsafe string? Crypt(string password, string setting)
    {
        // crypt_r, not crypt: crypt(3) returns a static buffer and logins run on many threads.
        // libxcrypt's struct crypt_data is 32768 bytes; "initialized" must be zero on first use.
        var data = new byte[65536];
        fixed (byte* d = data)
        {
            nint result = crypt_r(password, setting, d);
            if (result == 0) return null;
            string? s = Marshal.PtrToStringUTF8(result);
            // libxcrypt answers a failure with a string starting with "*".
            return s is null || s.StartsWith('*') ? null : s;
        }
    }

    [LibraryImport("libcrypt.so.1", EntryPoint = "crypt_r", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint crypt_r(string phrase, string setting, byte* data);
}
