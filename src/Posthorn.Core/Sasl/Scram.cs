using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;

namespace Posthorn.Sasl;

/// <summary>The hash function of a SCRAM mechanism: SCRAM-SHA-1 (RFC 5802) or SCRAM-SHA-256 (RFC 7677).</summary>
public enum ScramHash : byte
{
    Sha1,
    Sha256,
}

/// <summary>What a server keeps to check a SCRAM login without the password (RFC 5802 §3): the iteration
/// count, the salt, StoredKey = H(ClientKey) and ServerKey.</summary>
/// <remarks>Dovecot keeps them in a passwd-file as <c>{SCRAM-SHA-256}ITER,SALT,STOREDKEY,SERVERKEY</c> (base64
/// fields); <see cref="TryParse"/> reads and <see cref="ToString"/> writes that form.
/// Security: StoredKey and ServerKey let a thief impersonate the server, not log in as the user.</remarks>
public sealed record ScramCredentials(ScramHash Hash, int Iterations, byte[] Salt, byte[] StoredKey, byte[] ServerKey)
{
    /// <summary>Dovecot's and RFC 7677 §4's minimum sensible iteration count, used for new credentials.</summary>
    public const int DefaultIterations = 4096;

    /// <summary>The mechanism name: SCRAM-SHA-1 or SCRAM-SHA-256.</summary>
    public static string MechanismName(ScramHash hash) => hash == ScramHash.Sha1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";

    /// <summary>RFC 5802 §3: SaltedPassword = Hi(password, salt, i); ClientKey = HMAC(SaltedPassword, "Client Key");
    /// StoredKey = H(ClientKey); ServerKey = HMAC(SaltedPassword, "Server Key").</summary>
    /// <remarks>DEVIATION: the password is normalized with Unicode NFKC rather than the full SASLprep profile
    /// (RFC 4013); the two agree for every ASCII password.</remarks>
    public static ScramCredentials FromPassword(ScramHash hash, string password, byte[] salt, int iterations = DefaultIterations)
    {
        var name = Name(hash);
        byte[] salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password.Normalize(NormalizationForm.FormKC)),
            salt, iterations, name, Length(hash));
        try
        {
            byte[] clientKey = Hmac(hash, salted, "Client Key"u8);
            return new ScramCredentials(hash, iterations, salt, Digest(hash, clientKey), Hmac(hash, salted, "Server Key"u8));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(salted);
        }
    }

    /// <summary>Credentials for a user who has none: a random salt and keys, so that the exchange runs to its
    /// end and fails there, and a client cannot tell unknown users apart (RFC 5802 §9, "mock" salt).</summary>
    public static ScramCredentials Unusable(ScramHash hash) => new(hash, DefaultIterations,
        RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(Length(hash)), RandomNumberGenerator.GetBytes(Length(hash)));

    /// <summary>Reads Dovecot's stored form <c>ITER,SALT,STOREDKEY,SERVERKEY</c> (without the <c>{SCHEME}</c>).</summary>
    public static bool TryParse(ScramHash hash, string value, out ScramCredentials? credentials)
    {
        credentials = null;
        var parts = value.Split(',');
        if (parts.Length != 4 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int iterations)
            || iterations < 1)
            return false;
        try
        {
            byte[] salt = Convert.FromBase64String(parts[1]);
            byte[] stored = Convert.FromBase64String(parts[2]);
            byte[] server = Convert.FromBase64String(parts[3]);
            if (salt.Length == 0 || stored.Length != Length(hash) || server.Length != Length(hash)) return false;
            credentials = new ScramCredentials(hash, iterations, salt, stored, server);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Dovecot's stored form: <c>ITER,SALT,STOREDKEY,SERVERKEY</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Iterations},{Convert.ToBase64String(Salt)},{Convert.ToBase64String(StoredKey)},{Convert.ToBase64String(ServerKey)}");

    internal static HashAlgorithmName Name(ScramHash hash) => hash == ScramHash.Sha1 ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256;

    internal static int Length(ScramHash hash) => hash == ScramHash.Sha1 ? SHA1.HashSizeInBytes : SHA256.HashSizeInBytes;

    internal static byte[] Hmac(ScramHash hash, byte[] key, ReadOnlySpan<byte> data) =>
        hash == ScramHash.Sha1 ? HMACSHA1.HashData(key, data) : HMACSHA256.HashData(key, data);

    internal static byte[] Digest(ScramHash hash, byte[] data) =>
        hash == ScramHash.Sha1 ? SHA1.HashData(data) : SHA256.HashData(data);
}

/// <summary>The server side of one SCRAM exchange (RFC 5802 §5, RFC 7677), independent of the protocol that
/// carries it (SMTP AUTH, IMAP AUTHENTICATE): read client-first, answer server-first, check client-final.</summary>
/// <remarks>Channel binding (the -PLUS mechanisms) is not offered: a client that asks for it ("p=") is refused,
/// and one that says the server could have offered it ("y") is accepted, as §6 allows when the server does not
/// support it. An authorization identity other than the user itself is refused (no proxy logins).
/// Security: the proof is compared in constant time; the nonce comes from the system's CSPRNG unless
/// <paramref name="serverNonce"/> is given (the RFCs' worked examples need theirs).</remarks>
public sealed class ScramServerExchange(ScramHash hash, string? serverNonce = null)
{
    private string? _gs2Header;
    private string? _clientFirstBare;
    private string? _serverFirst;
    private string? _nonce;
    private ScramCredentials? _credentials;

    public ScramHash Hash => hash;

    /// <summary>The user named in client-first; set by <see cref="TryReadClientFirst"/>.</summary>
    public string? User { get; private set; }

    /// <summary>RFC 5802 §7: client-first-message = gs2-header client-first-bare, where
    /// gs2-header = gs2-cbind-flag "," [authzid] "," and client-first-bare = [reserved-mext ","] username "," nonce ["," extensions].</summary>
    public bool TryReadClientFirst(ReadOnlySpan<byte> message)
    {
        if (!TryUtf8(message, out string text)) return false;
        int comma1 = text.IndexOf(',');
        int comma2 = comma1 < 0 ? -1 : text.IndexOf(',', comma1 + 1);
        if (comma2 < 0) return false;
        string flag = text[..comma1], authzid = text[(comma1 + 1)..comma2];
        if (flag is not ("n" or "y")) return false;                 // "p=…" asks for channel binding
        var bare = text[(comma2 + 1)..].Split(',');
        if (bare.Length < 2 || !bare[0].StartsWith("n=", StringComparison.Ordinal) || !bare[1].StartsWith("r=", StringComparison.Ordinal))
            return false;                                             // a leading "m=" (reserved-mext) is refused too
        if (SaslName(bare[0][2..]) is not { Length: > 0 } user) return false;
        string clientNonce = bare[1][2..];
        if (clientNonce.Length == 0 || !IsPrintable(clientNonce)) return false;
        if (authzid.Length > 0 && (!authzid.StartsWith("a=", StringComparison.Ordinal) || SaslName(authzid[2..]) != user))
            return false;
        _gs2Header = text[..(comma2 + 1)];
        _clientFirstBare = text[(comma2 + 1)..];
        _nonce = clientNonce + (serverNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)));
        User = user;
        return true;
    }

    /// <summary>RFC 5802 §7: server-first-message = "r=" c-nonce s-nonce ",s=" salt ",i=" iteration-count.</summary>
    public string ServerFirst(ScramCredentials credentials)
    {
        if (_nonce is null) throw new InvalidOperationException("client-first has not been read");
        _credentials = credentials;
        _serverFirst = string.Create(CultureInfo.InvariantCulture,
            $"r={_nonce},s={Convert.ToBase64String(credentials.Salt)},i={credentials.Iterations}");
        return _serverFirst;
    }

    /// <summary>RFC 5802 §7: client-final-message = "c=" base64(gs2-header) ",r=" nonce ["," extensions] ",p=" proof.
    /// True when the proof is right; <paramref name="serverFinal"/> is then "v=" ServerSignature.</summary>
    public bool TryVerifyClientFinal(ReadOnlySpan<byte> message, out string serverFinal)
    {
        serverFinal = "";
        if (_credentials is null || _serverFirst is null || !TryUtf8(message, out string text)) return false;
        int proofAt = text.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofAt < 0) return false;
        string withoutProof = text[..proofAt];
        var fields = withoutProof.Split(',');
        if (fields.Length < 2 || fields[0] != "c=" + Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header!))
            || fields[1] != "r=" + _nonce)
            return false;
        byte[] proof;
        try { proof = Convert.FromBase64String(text[(proofAt + 3)..]); }
        catch (FormatException) { return false; }
        var creds = _credentials;
        if (proof.Length != creds.StoredKey.Length) return false;
        // RFC 5802 §3: AuthMessage = client-first-bare "," server-first-message "," client-final-message-without-proof.
        byte[] authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{_serverFirst},{withoutProof}");
        byte[] clientSignature = ScramCredentials.Hmac(hash, creds.StoredKey, authMessage);
        byte[] clientKey = new byte[proof.Length];
        for (int i = 0; i < proof.Length; i++) clientKey[i] = (byte)(proof[i] ^ clientSignature[i]);
        bool ok = CryptographicOperations.FixedTimeEquals(ScramCredentials.Digest(hash, clientKey), creds.StoredKey);
        CryptographicOperations.ZeroMemory(clientKey);
        if (!ok) return false;
        serverFinal = "v=" + Convert.ToBase64String(ScramCredentials.Hmac(hash, creds.ServerKey, authMessage));
        return true;
    }

    /// <summary>RFC 5802 §5.1: in a saslname "," is "=2C" and "=" is "=3D"; any other "=" makes it invalid (null).</summary>
    private static string? SaslName(string value)
    {
        if (!value.Contains('=')) return value;
        var sb = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] != '=') { sb.Append(value[i]); continue; }
            if (i + 2 >= value.Length) return null;
            string code = value.Substring(i + 1, 2);
            if (code == "2C") sb.Append(',');
            else if (code == "3D") sb.Append('=');
            else return null;
            i += 2;
        }
        return sb.ToString();
    }

    /// <summary>RFC 5802 §7: printable = %x21-2B / %x2D-7E (no comma).</summary>
    private static bool IsPrintable(string value)
    {
        foreach (char c in value)
            if (c is < '!' or > '~' or ',') return false;
        return true;
    }

    private static bool TryUtf8(ReadOnlySpan<byte> bytes, out string text)
    {
        text = "";
        if (!Utf8.IsValid(bytes) || bytes.IndexOf((byte)0) >= 0) return false;
        text = Encoding.UTF8.GetString(bytes);
        return true;
    }
}
