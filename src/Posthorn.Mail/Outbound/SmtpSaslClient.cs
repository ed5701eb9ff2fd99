using System.Security.Cryptography;
using System.Text;

namespace Posthorn.Mail.Outbound;

/// <summary>The client side of one SASL mechanism (RFC 4422) for SMTP AUTH (RFC 4954).</summary>
/// <remarks>The exchange: <see cref="InitialResponse"/> goes on the AUTH line; each 334 challenge gets
/// <see cref="Respond"/>'s answer (null cancels with "*"); the server's 235 is a success only when
/// <see cref="CanComplete"/> (SCRAM: the server proved it knows the password too).
/// Security: the secrets stay in this object; nothing here logs.</remarks>
internal abstract class SaslClientMechanism
{
    public abstract string Name { get; }

    /// <summary>The security properties the mechanism has, as Cyrus SASL flags them (smtp_sasl_security_options).</summary>
    public abstract SaslSecurity Properties { get; }

    public virtual byte[]? InitialResponse => null;

    public abstract byte[]? Respond(ReadOnlySpan<byte> challenge);

    public virtual bool CanComplete => true;

    /// <summary>Client mechanisms Posthorn has, strongest first (the order in which one is chosen).</summary>
    public static IReadOnlyList<string> Supported { get; } = ["SCRAM-SHA-256", "CRAM-MD5", "PLAIN", "LOGIN"];

    /// <summary>The mechanism to use: the first of <see cref="Supported"/> that the server offers, that
    /// smtp_sasl_mechanism_filter keeps, and that has every property <paramref name="required"/> asks for.</summary>
    /// <returns>null: Postfix's "no mechanism available" (Cyrus: "No worthy mechs found").</returns>
    public static SaslClientMechanism? Choose(IEnumerable<string> offered, IReadOnlyList<string> filter, SaslSecurity required,
        string user, string password)
    {
        var offer = offered.Select(m => m.Trim().ToUpperInvariant()).Where(m => m.Length > 0).ToHashSet();
        // Postfix smtp_sasl_mechanism_filter: "If non-empty, a Postfix SMTP client filter for the remote SMTP server's
        // list of offered SASL mechanisms."
        if (filter.Count > 0) offer.IntersectWith(filter.Select(f => f.Trim().ToUpperInvariant()));
        foreach (string name in Supported)
        {
            if (!offer.Contains(name)) continue;
            SaslClientMechanism m = name switch
            {
                "SCRAM-SHA-256" => new ScramSha256(user, password),
                "CRAM-MD5" => new CramMd5(user, password),
                "PLAIN" => new Plain(user, password),
                _ => new Login(user, password),
            };
            if ((m.Properties & required) == required) return m;
        }
        return null;
    }

    /// <summary>RFC 4616: one message, "\0user\0password".</summary>
    private sealed class Plain(string user, string password) : SaslClientMechanism
    {
        public override string Name => "PLAIN";
        public override SaslSecurity Properties => SaslSecurity.NoAnonymous;
        public override byte[] InitialResponse => Encoding.UTF8.GetBytes($"\0{user}\0{password}");

        // A server that answers the AUTH line with an empty 334 wants the message now.
        public override byte[]? Respond(ReadOnlySpan<byte> challenge) => challenge.IsEmpty ? InitialResponse : null;
    }

    /// <summary>The LOGIN mechanism (draft-murchison-sasl-login): the user name, then the password.</summary>
    private sealed class Login(string user, string password) : SaslClientMechanism
    {
        private int _step;
        public override string Name => "LOGIN";
        public override SaslSecurity Properties => SaslSecurity.NoAnonymous;

        public override byte[]? Respond(ReadOnlySpan<byte> challenge) => _step++ switch
        {
            0 => Encoding.UTF8.GetBytes(user),
            1 => Encoding.UTF8.GetBytes(password),
            _ => null,
        };
    }

    /// <summary>RFC 2195: "user " + hex(HMAC-MD5(password, challenge)).</summary>
    private sealed class CramMd5(string user, string password) : SaslClientMechanism
    {
        private bool _answered;
        public override string Name => "CRAM-MD5";
        public override SaslSecurity Properties => SaslSecurity.NoPlaintext | SaslSecurity.NoAnonymous;

        public override byte[]? Respond(ReadOnlySpan<byte> challenge)
        {
            if (_answered) return null;
            _answered = true;
            byte[] mac = HMACMD5.HashData(Encoding.UTF8.GetBytes(password), challenge);
            return Encoding.UTF8.GetBytes($"{user} {Convert.ToHexStringLower(mac)}");
        }
    }

    /// <summary>RFC 5802 / RFC 7677 SCRAM-SHA-256 without channel binding ("n,,").</summary>
    private sealed class ScramSha256(string user, string password) : SaslClientMechanism
    {
        // Posthorn's bound on the server's iteration count: a hostile server must not make the client spin.
        private const int MaxIterations = 1_000_000;
        private readonly string _clientFirstBare = $"n={SaslName(user)},r={Convert.ToBase64String(RandomNumberGenerator.GetBytes(18))}";
        private byte[]? _serverSignature;
        private bool _verified;
        private int _step;

        public override string Name => "SCRAM-SHA-256";
        public override SaslSecurity Properties =>
            SaslSecurity.NoPlaintext | SaslSecurity.NoActive | SaslSecurity.NoAnonymous | SaslSecurity.MutualAuth;
        public override byte[] InitialResponse => Encoding.UTF8.GetBytes("n,," + _clientFirstBare);
        public override bool CanComplete => _verified;

        public override byte[]? Respond(ReadOnlySpan<byte> challenge) => _step++ switch
        {
            0 => ClientFinal(Encoding.UTF8.GetString(challenge)),
            1 => VerifyServerFinal(Encoding.UTF8.GetString(challenge)),
            _ => null,
        };

        private byte[]? ClientFinal(string serverFirst)
        {
            string? nonce = null, salt = null, iterations = null;
            foreach (string part in serverFirst.Split(','))
            {
                if (part.StartsWith("r=", StringComparison.Ordinal)) nonce = part[2..];
                else if (part.StartsWith("s=", StringComparison.Ordinal)) salt = part[2..];
                else if (part.StartsWith("i=", StringComparison.Ordinal)) iterations = part[2..];
                else if (part.StartsWith("m=", StringComparison.Ordinal)) return null;   // RFC 5802 §5.1: unknown mandatory extension
            }
            string clientNonce = _clientFirstBare[(_clientFirstBare.IndexOf(",r=", StringComparison.Ordinal) + 3)..];
            // RFC 5802 §5.1: the server's nonce starts with the client's and adds to it.
            if (nonce is null || nonce.Length <= clientNonce.Length || !nonce.StartsWith(clientNonce, StringComparison.Ordinal)) return null;
            if (!int.TryParse(iterations, System.Globalization.NumberStyles.None, null, out int i) || i is < 1 or > MaxIterations) return null;
            byte[] saltBytes;
            try { saltBytes = Convert.FromBase64String(salt ?? ""); }
            catch (FormatException) { return null; }

            string withoutProof = $"c=biws,r={nonce}";
            byte[] authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{serverFirst},{withoutProof}");
            byte[] salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), saltBytes, i, HashAlgorithmName.SHA256, SHA256.HashSizeInBytes);
            byte[] clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
            byte[] signature = HMACSHA256.HashData(SHA256.HashData(clientKey), authMessage);
            for (int k = 0; k < clientKey.Length; k++) clientKey[k] ^= signature[k];
            _serverSignature = HMACSHA256.HashData(HMACSHA256.HashData(salted, "Server Key"u8), authMessage);
            return Encoding.UTF8.GetBytes($"{withoutProof},p={Convert.ToBase64String(clientKey)}");
        }

        private byte[]? VerifyServerFinal(string serverFinal)
        {
            if (_serverSignature is null || !serverFinal.StartsWith("v=", StringComparison.Ordinal)) return null;
            byte[] v;
            try { v = Convert.FromBase64String(serverFinal[2..]); }
            catch (FormatException) { return null; }
            // RFC 5802 §3: the client authenticates the server by its signature.
            _verified = CryptographicOperations.FixedTimeEquals(v, _serverSignature);
            return _verified ? [] : null;
        }

        /// <summary>RFC 5802 §5.1: "," and "=" in a name become "=2C" and "=3D".</summary>
        private static string SaslName(string name) => name.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal);
    }
}

/// <summary>smtp_sasl_password_maps lookups (Postfix smtp_sasl_glue.c, SASL_README).</summary>
public static class SmtpSaslPasswords
{
    /// <summary>The keys, in lookup order: the remote host name (the MX host or relay host), then the next-hop
    /// destination exactly as written (<c>[mail.isp.example]:587</c>, <c>[mail.isp.example]</c>, <c>example.com</c>).</summary>
    /// <remarks>Postfix smtp_sasl_passwd_lookup() tries <c>session-&gt;host</c>, then <c>session-&gt;dest</c>;
    /// SASL_README: with "[" "]" or a non-default port in the relayhost "you must use the same form in the
    /// smtp_sasl_password_maps file". Per-sender lookup (smtp_sender_dependent_authentication) is not implemented.</remarks>
    public static IReadOnlyList<string> Keys(string hostName, NextHop? nextHop)
    {
        var keys = new List<string> { hostName };
        if (nextHop is { } hop && !keys.Contains(hop.ToString(), StringComparer.OrdinalIgnoreCase)) keys.Add(hop.ToString());
        return keys;
    }

    /// <summary>The first <c>username:password</c> found for <see cref="Keys"/>, split at the first ":".</summary>
    /// <returns>false when no key has an entry (Postfix then does not authenticate).</returns>
    /// <exception cref="Posthorn.Config.Tables.LookupTableException">A table could not answer.</exception>
    public static bool TryFind(Func<string, string?> lookup, string hostName, NextHop? nextHop, out string user, out string password)
    {
        foreach (string key in Keys(hostName, nextHop))
        {
            if (lookup(key) is not { } value) continue;
            int colon = value.IndexOf(':');
            (user, password) = colon < 0 ? (value, "") : (value[..colon], value[(colon + 1)..]);
            return true;
        }
        (user, password) = ("", "");
        return false;
    }
}
