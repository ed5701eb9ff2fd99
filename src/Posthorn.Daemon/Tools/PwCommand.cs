using System.Globalization;
using System.Security.Cryptography;
using Posthorn.Mail.Auth;
using Posthorn.Sasl;

namespace Posthorn.Daemon.Tools;

/// <summary><c>posthorn pw [-s SCHEME] [-p PASSWORD] [-r ROUNDS] [-V]</c>, <c>posthorn pw -t HASH [-p PASSWORD]</c>,
/// <c>posthorn pw -l</c>: makes or checks a password field for a passwd-file (posthorn_passwd_file), as
/// Dovecot's <c>doveadm pw</c> does, and prints it as <c>{SCHEME}hash</c>.</summary>
/// <remarks>
/// Schemes: SHA512-CRYPT (the default), SHA256-CRYPT, BLF-CRYPT and the system's crypt(3) default as CRYPT
/// (all through libxcrypt), ARGON2ID and ARGON2I (libargon2), SCRAM-SHA-1 and SCRAM-SHA-256 (Dovecot's ITER,SALT,STOREDKEY,SERVERKEY, which
/// also let SMTP AUTH offer the SCRAM mechanisms), and PLAIN (which also lets CRAM-MD5 work).
/// Without -p the password is read from standard input: asked twice on a terminal, one line otherwise.
/// -r is the crypt cost (rounds for SHA-CRYPT, log2 cost for BLF-CRYPT), the Argon2 passes, or the SCRAM iteration count.
/// Exit status: 0; 1 on a mismatch or an unknown scheme (<c>Fatal: …</c> on stderr, as doveadm); 64 on a usage error.
/// </remarks>
public static class PwCommand
{
    private const string Usage = "usage: posthorn pw [-l] [-p password] [-r rounds] [-s scheme] [-t hash] [-V]";

    /// <summary>Scheme name → crypt(3) prefix for the crypt schemes.</summary>
    private static readonly Dictionary<string, string> CryptPrefixes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["SHA512-CRYPT"] = "$6$", ["SHA256-CRYPT"] = "$5$", ["BLF-CRYPT"] = "$2b$", ["CRYPT"] = "",
    };

    public static Task<int> RunAsync(string[] args, ToolContext ctx) => Task.FromResult(Run(args, ctx));

    public static int Run(string[] args, ToolContext ctx)
    {
        string scheme = "SHA512-CRYPT";
        string? password = null, test = null;
        ulong rounds = 0;
        bool verify = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-l":
                    ctx.Out.WriteLine(string.Join(' ', [.. CryptPrefixes.Keys, "ARGON2ID", "ARGON2I", "SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN", "CLEAR"]));
                    return 0;
                case "-s" when i + 1 < args.Length: scheme = args[++i].ToUpperInvariant(); break;
                case "-p" when i + 1 < args.Length: password = args[++i]; break;
                case "-t" when i + 1 < args.Length: test = args[++i]; break;
                case "-V": verify = true; break;
                case "-r" when i + 1 < args.Length:
                    if (!ulong.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out rounds))
                        return Fail(ctx, $"Invalid number of rounds: {args[i]}");
                    break;
                default:
                    ctx.Err.WriteLine(Usage);
                    return 64;
            }
        }
        password ??= ReadPassword(ctx);
        if (password is null) return Fail(ctx, "Passwords don't match!");
        if (test is not null)
        {
            if (!PasswdFile.Check(password, test)) return Fail(ctx, "reverse password verification check failed: Password mismatch");
            ctx.Out.WriteLine($"{test} (verified)");
            return 0;
        }
        string? field = Make(scheme, password, rounds);
        if (field is null) return Fail(ctx, $"Unknown scheme: {scheme}");
        if (verify && !PasswdFile.Check(password, field)) return Fail(ctx, "reverse password verification check failed: Password mismatch");
        ctx.Out.WriteLine(verify ? $"{field} (verified)" : field);
        return 0;
    }

    /// <summary>The passwd-file field <c>{SCHEME}value</c> for <paramref name="password"/>, or null for an unknown
    /// scheme or a cost the crypt library refuses.</summary>
    public static string? Make(string scheme, string password, ulong rounds = 0)
    {
        if (CryptPrefixes.TryGetValue(scheme, out string? prefix))
        {
            // CRYPT: the library's own preferred method (an empty prefix).
            string? setting = Crypt.Salt(prefix, rounds);
            return setting is null || Crypt.Hash(password, setting) is not { } hash ? null : $"{{{scheme}}}{hash}";
        }
        if (PasswdFile.ArgonScheme(scheme) is { } variant)
        {
            uint passes = rounds == 0 ? Argon2.DefaultPasses : (uint)Math.Min(rounds, uint.MaxValue);
            return Argon2.Hash(password, variant, passes) is { } phc ? $"{{{scheme}}}{phc}" : null;
        }
        if (scheme is "SCRAM-SHA-1" or "SCRAM-SHA-256")
        {
            var hashName = scheme == "SCRAM-SHA-1" ? ScramHash.Sha1 : ScramHash.Sha256;
            int iterations = rounds == 0 ? ScramCredentials.DefaultIterations : (int)Math.Min(rounds, int.MaxValue);
            return $"{{{scheme}}}{ScramCredentials.FromPassword(hashName, password, RandomNumberGenerator.GetBytes(16), iterations)}";
        }
        return scheme is "PLAIN" or "CLEAR" ? $"{{{scheme}}}{password}" : null;
    }

    /// <summary>The password from standard input: on a terminal asked twice (null when the two differ),
    /// otherwise the first line.</summary>
    private static string? ReadPassword(ToolContext ctx)
    {
        if (Console.IsInputRedirected || !ReferenceEquals(ctx.In, Console.In))
            return ctx.In.ReadLine() ?? "";
        ctx.Err.Write("Enter new password: ");
        string first = ReadHidden();
        ctx.Err.Write("Retype new password: ");
        string second = ReadHidden();
        return first == second ? first : null;
    }

    private static string ReadHidden()
    {
        var chars = new List<char>();
        for (var key = Console.ReadKey(intercept: true); key.Key != ConsoleKey.Enter; key = Console.ReadKey(intercept: true))
        {
            if (key.Key == ConsoleKey.Backspace) { if (chars.Count > 0) chars.RemoveAt(chars.Count - 1); }
            else chars.Add(key.KeyChar);
        }
        Console.Error.WriteLine();
        return new string([.. chars]);
    }

    private static int Fail(ToolContext ctx, string message)
    {
        ctx.Err.WriteLine($"Fatal: {message}");
        return 1;
    }
}
