using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Posthorn.Sasl;

namespace Posthorn.Mail.Auth;

/// <summary>A Dovecot-style passwd-file: one user per line, <c>user:{SCHEME}hash:uid:gid:gecos:home:shell:extra</c>,
/// <c>#</c> comments and blank lines ignored. It is both the passdb (the password field) and the userdb
/// (uid, gid and home) of the user database.</summary>
/// <remarks>
/// Schemes (Dovecot's names): PLAIN, CLEAR and CLEARTEXT compare the text itself; CRYPT (the default when
/// no <c>{SCHEME}</c> is given, Dovecot's default_pass_scheme for passwd-files), SHA512-CRYPT, SHA256-CRYPT,
/// MD5-CRYPT, BLF-CRYPT and DES-CRYPT are checked by the system's crypt(3), which reads the method from the
/// hash (<c>$6$</c>, <c>$5$</c>, <c>$1$</c>, <c>$2y$</c>). ARGON2ID and ARGON2I are checked by libargon2
/// (<see cref="Argon2"/>). SCRAM-SHA-1 and SCRAM-SHA-256 (Dovecot's
/// <c>ITER,SALT,STOREDKEY,SERVERKEY</c>) serve the SCRAM mechanisms and are checked through them for
/// PLAIN/LOGIN too. Any other scheme fails the login.
/// Dovecot: the first entry for a user wins; empty uid, gid or home fields are allowed.
/// The file is read again when its size or modification time changes, so edits need no reload.
/// Security: the file holds secrets; keep it readable by the mail system only. Passwords are never logged,
/// and comparisons take constant time.
/// Parameters: posthorn_passwd_file (a Posthorn extension).
/// </remarks>
public sealed class PasswdFile(string path) : IPlaintextSecretDatabase, IScramSecretDatabase
{
    private static readonly HashSet<string> CryptSchemes =
        new(["CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "BLF-CRYPT", "DES-CRYPT"], StringComparer.OrdinalIgnoreCase);

    /// <summary>One line of the file: the password field and the userdb fields.</summary>
    private sealed record Entry(string Password, MailUser User);

    private sealed record Snapshot(DateTime Modified, long Length, IReadOnlyDictionary<string, Entry> Users, bool AnyPlaintext,
        bool AnyScramSha1, bool AnyScramSha256);

    private volatile Snapshot? _snapshot;

    public string Path { get; } = path;

    public async ValueTask<AuthResult> VerifyAsync(string user, string password, CancellationToken ct) =>
        (await LoginAsync(user, password, ct)).Result;

    public ValueTask<UserLookup> LoginAsync(string user, string password, CancellationToken ct)
    {
        var (result, entry) = Find(user);
        if (entry is null) return ValueTask.FromResult(new UserLookup(result, null));
        return ValueTask.FromResult(Check(password, entry.Password) ? new UserLookup(AuthResult.Success, entry.User) : UserLookup.Failure);
    }

    public ValueTask<UserLookup> FindAsync(string user, CancellationToken ct)
    {
        var (result, entry) = Find(user);
        return ValueTask.FromResult(new UserLookup(result, entry?.User));
    }

    /// <summary>True when at least one entry keeps its password in a plaintext scheme ({PLAIN}, {CLEAR},
    /// {CLEARTEXT}); false when none does or the file cannot be read. Follows edits of the file.</summary>
    public bool HasPlaintextSecrets
    {
        get
        {
            try
            {
                return Load().AnyPlaintext;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }
    }

    public bool HasScramSecrets(ScramHash hash)
    {
        try
        {
            var snapshot = Load();
            return snapshot.AnyPlaintext || (hash == ScramHash.Sha1 ? snapshot.AnyScramSha1 : snapshot.AnyScramSha256);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>SCRAM credentials of <paramref name="user"/>: the stored {SCRAM-SHA-…} entry of that hash, or ones
    /// derived from a plaintext password with a fresh salt; Failure for any other scheme or an unknown user.</summary>
    public ValueTask<(AuthResult Result, ScramCredentials? Credentials)> GetScramAsync(string user, ScramHash hash, CancellationToken ct)
    {
        var (result, entry) = Find(user);
        if (entry is null) return ValueTask.FromResult<(AuthResult, ScramCredentials?)>((result, null));
        var (scheme, value) = Split(entry.Password);
        ScramCredentials? credentials = null;
        if (IsPlaintext(scheme))
            credentials = ScramCredentials.FromPassword(hash, value, RandomNumberGenerator.GetBytes(16));
        else if (ScramScheme(scheme) == hash)
            ScramCredentials.TryParse(hash, value, out credentials);
        return ValueTask.FromResult<(AuthResult, ScramCredentials?)>(
            credentials is null ? (AuthResult.Failure, null) : (AuthResult.Success, credentials));
    }

    /// <summary>The SCRAM hash of a {SCRAM-SHA-1} or {SCRAM-SHA-256} scheme, else null.</summary>
    private static ScramHash? ScramScheme(string scheme) =>
        scheme.Equals("SCRAM-SHA-256", StringComparison.OrdinalIgnoreCase) ? ScramHash.Sha256
        : scheme.Equals("SCRAM-SHA-1", StringComparison.OrdinalIgnoreCase) ? ScramHash.Sha1
        : null;

    /// <summary>The stored plaintext password of <paramref name="user"/>: Success with it; Failure (and null) for
    /// an unknown user or one whose password is hashed; TemporaryFailure when the file cannot be read.</summary>
    public ValueTask<(AuthResult Result, string? Secret)> GetSecretAsync(string user, CancellationToken ct)
    {
        var (result, entry) = Find(user);
        if (entry is null) return ValueTask.FromResult<(AuthResult, string?)>((result, null));
        var (scheme, value) = Split(entry.Password);
        return ValueTask.FromResult<(AuthResult, string?)>(IsPlaintext(scheme) ? (AuthResult.Success, value) : (AuthResult.Failure, null));
    }

    private (AuthResult Result, Entry? Entry) Find(string user)
    {
        Snapshot snapshot;
        try
        {
            snapshot = Load();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (AuthResult.TemporaryFailure, null);
        }
        return snapshot.Users.TryGetValue(user, out var entry) ? (AuthResult.Success, entry) : (AuthResult.Failure, null);
    }

    /// <summary>Checks a password against one stored passwd-file password field (<c>{SCHEME}value</c>).</summary>
    public static bool Check(string password, string stored)
    {
        var (scheme, value) = Split(stored);
        if (IsPlaintext(scheme))
            return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(password), Encoding.UTF8.GetBytes(value));
        // A stored SCRAM entry checks a password by deriving its keys with the stored salt and count.
        if (ScramScheme(scheme) is { } hash)
            return ScramCredentials.TryParse(hash, value, out var keys) && keys is not null
                && CryptographicOperations.FixedTimeEquals(
                    ScramCredentials.FromPassword(hash, password, keys.Salt, keys.Iterations).StoredKey, keys.StoredKey);
        if (ArgonScheme(scheme) is { } variant) return Argon2.Verify(password, value, variant);
        return CryptSchemes.Contains(scheme) && Crypt.Verify(password, value);
    }

    /// <summary>The Argon2 variant of an {ARGON2ID} or {ARGON2I} scheme, else null.</summary>
    public static Argon2.Variant? ArgonScheme(string scheme) =>
        scheme.Equals("ARGON2ID", StringComparison.OrdinalIgnoreCase) ? Argon2.Variant.Argon2id
        : scheme.Equals("ARGON2I", StringComparison.OrdinalIgnoreCase) ? Argon2.Variant.Argon2i
        : null;

    /// <summary>Splits <c>{SCHEME}value</c>; without a scheme prefix the scheme is CRYPT (Dovecot's default for passwd-files).</summary>
    private static (string Scheme, string Value) Split(string stored) =>
        stored.StartsWith('{') && stored.IndexOf('}') is var close and > 1 ? (stored[1..close], stored[(close + 1)..]) : ("CRYPT", stored);

    private static bool IsPlaintext(string scheme) =>
        scheme.Equals("PLAIN", StringComparison.OrdinalIgnoreCase) || scheme.Equals("CLEAR", StringComparison.OrdinalIgnoreCase)
        || scheme.Equals("CLEARTEXT", StringComparison.OrdinalIgnoreCase);

    private Snapshot Load()
    {
        var info = new FileInfo(Path);
        if (!info.Exists) throw new FileNotFoundException("passwd-file not found", Path);
        var current = _snapshot;
        if (current is not null && current.Modified == info.LastWriteTimeUtc && current.Length == info.Length) return current;
        var users = new Dictionary<string, Entry>(StringComparer.Ordinal);
        bool anyPlaintext = false, anyScramSha1 = false, anyScramSha256 = false;
        foreach (var line in File.ReadLines(Path))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var fields = line.Split(':');
            if (fields.Length < 2 || fields[0].Length == 0) continue;
            string Field(int i) => fields.Length > i ? fields[i] : "";
            var user = new MailUser(fields[0], Id(Field(2)), Id(Field(3)), Field(5));
            if (users.TryAdd(fields[0], new Entry(fields[1], user)))   // Dovecot: the first entry for a user wins.
            {
                string scheme = Split(fields[1]).Scheme;
                anyPlaintext |= IsPlaintext(scheme);
                anyScramSha1 |= ScramScheme(scheme) == ScramHash.Sha1;
                anyScramSha256 |= ScramScheme(scheme) == ScramHash.Sha256;
            }
        }
        var fresh = new Snapshot(info.LastWriteTimeUtc, info.Length, users, anyPlaintext, anyScramSha1, anyScramSha256);
        _snapshot = fresh;
        return fresh;
    }

    /// <summary>A numeric uid or gid field; null when empty or not a number.</summary>
    private static int? Id(string field) =>
        int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int id) ? id : null;
}
