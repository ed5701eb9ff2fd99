using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Posthorn.Mail.Auth;

/// <summary>The system's crypt(3) from libxcrypt (<c>libcrypt.so.1</c>): SHA512-CRYPT ($6$), SHA256-CRYPT
/// ($5$), MD5-CRYPT ($1$), bcrypt ($2b$/$2y$, when the library has it), yescrypt ($y$) and DES. DESIGN.md
/// decision 7: password hashes come from the system, never a home-made scheme.</summary>
/// <remarks>Uses the re-entrant <c>crypt_rn</c> with a buffer per call (the plain <c>crypt</c> keeps its
/// result in static memory, unsafe with concurrent sessions). The comparison takes constant time.</remarks>
public static partial class Crypt
{
    private const string Lib = "libcrypt.so.1";
    /// <summary>sizeof(struct crypt_data) in libxcrypt.</summary>
    private const int CryptDataSize = 32768;

    [LibraryImport(Lib, EntryPoint = "crypt_rn")]
    private static unsafe partial byte* crypt_rn(byte* phrase, byte* setting, byte* data, int size);

    /// <summary>crypt(3) of <paramref name="password"/> with <paramref name="setting"/> (a hash or a salt
    /// string such as <c>$6$salt</c>); null when the library refuses the setting (unknown or disabled method).</summary>
    public static unsafe string? Hash(string password, string setting)
    {
        if (password.Contains('\0') || setting.Contains('\0')) return null;
        byte[] phrase = Encoding.UTF8.GetBytes(password + "\0");
        byte[] salt = Encoding.UTF8.GetBytes(setting + "\0");
        byte[] data = new byte[CryptDataSize];
        try
        {
            fixed (byte* p = phrase, s = salt, d = data)
            {
                byte* result = crypt_rn(p, s, d, data.Length);
                // libxcrypt: NULL on failure (crypt_rn), and hashes beginning with '*' are failure tokens.
                if (result == null || *result == (byte)'*') return null;
                return Marshal.PtrToStringUTF8((nint)result);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(phrase);
            CryptographicOperations.ZeroMemory(data);
        }
    }

    [LibraryImport(Lib, EntryPoint = "crypt_gensalt_rn")]
    private static unsafe partial byte* crypt_gensalt_rn(byte* prefix, nuint count, byte* rbytes, int nrbytes, byte* output, int size);

    /// <summary>A fresh setting for <paramref name="prefix"/> (<c>$6$</c>, <c>$5$</c>, <c>$2b$</c>, <c>$y$</c>) from
    /// crypt_gensalt(3), with the method's default cost when <paramref name="count"/> is 0 and random bytes from
    /// the system; an empty prefix asks for the library's preferred method. Null when the library does not know
    /// the method or the cost.</summary>
    public static unsafe string? Salt(string prefix, ulong count = 0)
    {
        if (prefix.Contains('\0')) return null;
        byte[] p = Encoding.ASCII.GetBytes(prefix + "\0");
        byte[] output = new byte[256];
        fixed (byte* pp = p, o = output)
        {
            // libxcrypt: a null prefix selects the preferred method; a null rbytes asks the library for random
            // bytes from the operating system.
            byte* result = crypt_gensalt_rn(prefix.Length == 0 ? null : pp, (nuint)count, null, 0, o, output.Length);
            if (result == null || *result == (byte)'*') return null;
            return Marshal.PtrToStringUTF8((nint)result);
        }
    }

    /// <summary>True when crypt(3) of the password with the stored hash as setting gives the stored hash.</summary>
    public static bool Verify(string password, string storedHash)
    {
        if (storedHash.Length == 0) return false;
        string? computed = Hash(password, storedHash);
        if (computed is null) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(computed), Encoding.UTF8.GetBytes(storedHash));
    }
}
