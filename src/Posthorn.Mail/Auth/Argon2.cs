using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Posthorn.Mail.Auth;

/// <summary>Argon2 password hashes (RFC 9106) through the system's reference library, libargon2 (Debian
/// <c>libargon2-1</c>): the passwd-file schemes ARGON2ID and ARGON2I, whose values are PHC strings such as
/// <c>$argon2id$v=19$m=65536,t=3,p=1$SALT$HASH</c>, as Dovecot writes them. DESIGN.md decision 7: hashes come from
/// a system library, never a home-made implementation.</summary>
/// <remarks>New hashes use Dovecot's costs: 3 passes (<c>-r</c> changes it), 64 MiB, one lane, a 16-byte salt
/// and a 32-byte hash. The library compares in constant time. Without libargon2 every Argon2 check fails and
/// <see cref="Hash"/> returns null.</remarks>
public static partial class Argon2
{
    private const string Lib = "libargon2.so.1";

    /// <summary>argon2_type.</summary>
    public enum Variant { Argon2d = 0, Argon2i = 1, Argon2id = 2 }

    public const uint DefaultPasses = 3;
    private const uint MemoryKiB = 65536, Lanes = 1, SaltLength = 16, HashLength = 32;

    [LibraryImport(Lib, EntryPoint = "argon2_verify")]
    private static unsafe partial int argon2_verify(byte* encoded, byte* pwd, nuint pwdlen, int type);

    [LibraryImport(Lib, EntryPoint = "argon2_hash")]
    private static unsafe partial int argon2_hash(uint t_cost, uint m_cost, uint parallelism, byte* pwd, nuint pwdlen,
        byte* salt, nuint saltlen, byte* hash, nuint hashlen, byte* encoded, nuint encodedlen, int type, uint version);

    /// <summary>ARGON2_VERSION_13 (0x13, "v=19").</summary>
    private const uint Version13 = 0x13;

    /// <summary>Whether <paramref name="password"/> matches the PHC string <paramref name="encoded"/> of <paramref name="variant"/>.</summary>
    public static unsafe bool Verify(string password, string encoded, Variant variant)
    {
        if (encoded.Contains('\0')) return false;
        byte[] pwd = Encoding.UTF8.GetBytes(password);
        byte[] enc = Encoding.ASCII.GetBytes(encoded + "\0");
        try
        {
            fixed (byte* p = pwd, e = enc)
                return argon2_verify(e, p, (nuint)pwd.Length, (int)variant) == 0;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pwd);
        }
    }

    /// <summary>A fresh PHC string for <paramref name="password"/> with a random salt; null without libargon2.</summary>
    public static unsafe string? Hash(string password, Variant variant, uint passes = DefaultPasses)
    {
        byte[] pwd = Encoding.UTF8.GetBytes(password);
        byte[] salt = RandomNumberGenerator.GetBytes((int)SaltLength);
        byte[] hash = new byte[HashLength];
        byte[] encoded = new byte[256];
        try
        {
            fixed (byte* p = pwd, s = salt, h = hash, e = encoded)
            {
                int rc = argon2_hash(passes, MemoryKiB, Lanes, p, (nuint)pwd.Length, s, (nuint)salt.Length, h, (nuint)hash.Length,
                    e, (nuint)encoded.Length, (int)variant, Version13);
                return rc == 0 ? Marshal.PtrToStringAnsi((nint)e) : null;
            }
        }
        catch (DllNotFoundException)
        {
            return null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pwd);
        }
    }
}
