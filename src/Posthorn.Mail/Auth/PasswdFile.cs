using System.Security.Cryptography;
using System.Text;

namespace Posthorn.Mail.Auth;

/// <summary>A Dovecot-style passwd-file: one user per line, <c>user:{SCHEME}hash:uid:gid:gecos:home:shell:extra</c>
/// (only the first two fields are read here), <c>#</c> comments and blank lines ignored.</summary>
/// <remarks>
/// Schemes (Dovecot's names): PLAIN, CLEAR and CLEARTEXT compare the text itself; CRYPT (the default when
/// no <c>{SCHEME}</c> is given), SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT and BLF-CRYPT are checked by the
/// system's crypt(3), which reads the method from the hash (<c>$6$</c>, <c>$5$</c>, <c>$1$</c>, <c>$2y$</c>).
/// Any other scheme fails the login. The file is read again when its size or modification time changes.
/// Security: the file holds secrets; keep it readable by the mail system only.
/// Parameters: posthorn_passwd_file (a Posthorn extension).
/// </remarks>
public sealed class PasswdFile(string path) : IPasswordDatabase
{
    private static readonly HashSet<string> CryptSchemes =
        new(["CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "BLF-CRYPT", "DES-CRYPT"], StringComparer.OrdinalIgnoreCase);

    private sealed record Snapshot(DateTime Modified, long Length, IReadOnlyDictionary<string, string> Passwords);

    private volatile Snapshot? _snapshot;

    public string Path { get; } = path;

    public ValueTask<AuthResult> VerifyAsync(string user, string password, CancellationToken ct)
    {
        Snapshot snapshot;
        try
        {
            snapshot = Load();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ValueTask.FromResult(AuthResult.TemporaryFailure);
        }
        if (!snapshot.Passwords.TryGetValue(user, out var stored)) return ValueTask.FromResult(AuthResult.Failure);
        return ValueTask.FromResult(Check(password, stored) ? AuthResult.Success : AuthResult.Failure);
    }

    /// <summary>Checks a password against one stored passwd-file password field.</summary>
    public static bool Check(string password, string stored)
    {
        string scheme = "CRYPT", value = stored;
        if (stored.StartsWith('{') && stored.IndexOf('}') is var close and > 1)
        {
            scheme = stored[1..close];
            value = stored[(close + 1)..];
        }
        if (scheme.Equals("PLAIN", StringComparison.OrdinalIgnoreCase) || scheme.Equals("CLEAR", StringComparison.OrdinalIgnoreCase)
            || scheme.Equals("CLEARTEXT", StringComparison.OrdinalIgnoreCase))
            return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(password), Encoding.UTF8.GetBytes(value));
        return CryptSchemes.Contains(scheme) && Crypt.Verify(password, value);
    }

    private Snapshot Load()
    {
        var info = new FileInfo(Path);
        if (!info.Exists) throw new FileNotFoundException("passwd-file not found", Path);
        var current = _snapshot;
        if (current is not null && current.Modified == info.LastWriteTimeUtc && current.Length == info.Length) return current;
        var passwords = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var fields = line.Split(':');
            if (fields.Length < 2 || fields[0].Length == 0) continue;
            passwords.TryAdd(fields[0], fields[1]);   // Dovecot: the first entry for a user wins.
        }
        var fresh = new Snapshot(info.LastWriteTimeUtc, info.Length, passwords);
        _snapshot = fresh;
        return fresh;
    }
}
