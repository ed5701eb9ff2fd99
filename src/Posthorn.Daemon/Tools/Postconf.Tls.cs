using System.Reflection;
using System.Runtime.Versioning;
using System.Security.Cryptography;

namespace Posthorn.Daemon.Tools;

/// <summary>postconf(1) <c>-T mode</c>: what the TLS library says about itself (Postfix 3.1 and later;
/// <c>public-key-algorithms</c> since Postfix 3.6).</summary>
/// <remarks>
/// Postfix prints OpenSSL's own version strings. Posthorn has no TLS code of its own: TLS is .NET's SslStream,
/// which on Linux loads the system OpenSSL when the process starts. So <c>run-version</c> is that OpenSSL's
/// version, <c>compile-version</c> names the .NET version Posthorn was built for (no OpenSSL headers are involved
/// at build time), and <c>public-key-algorithms</c> lists the server key types that Posthorn can load a
/// certificate for (X509Certificate2.CreateFromPemFile with an RSA or ECDSA key) and SslStream can present.
/// DEVIATION: compile-version is not an OpenSSL version string; run-version has no release date.
/// </remarks>
public static partial class Postconf
{
    /// <summary>The public-key algorithms of <c>postconf -T public-key-algorithms</c>, in Postfix's names.</summary>
    internal static IReadOnlyList<string> PublicKeyAlgorithms { get; } = ["rsa", "ecdsa"];

    /// <summary>Handles <c>postconf -T mode [-v] [-c dir]</c>; null when the arguments hold no <c>-T</c>.</summary>
    private static int? RunTls(string[] args, ToolContext ctx)
    {
        string? mode = null;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a.Length < 2 || a[0] != '-' || a == "--") return null;
            for (int j = 1; j < a.Length; j++)
            {
                char flag = a[j];
                if (flag is 'T' or 'c')
                {
                    string? value = j + 1 < a.Length ? a[(j + 1)..] : i + 1 < args.Length ? args[++i] : null;
                    if (value is null) return flag == 'T' ? Fatal(ctx, Usage) : null;
                    if (flag == 'T') mode = value;
                    break;
                }
                if (flag != 'v') return mode is null ? null : Fatal(ctx, Usage);
            }
        }
        if (mode is null) return null;
        switch (mode)
        {
            case "compile-version":
                ctx.Out.WriteLine(CompileVersion());
                return 0;
            case "run-version":
                if (RunVersion() is not { } run)
                {
                    ctx.Err.WriteLine("postconf: warning: TLS is not provided by OpenSSL on this platform");
                    return 1;
                }
                ctx.Out.WriteLine(run);
                return 0;
            case "public-key-algorithms":
                foreach (string alg in PublicKeyAlgorithms) ctx.Out.WriteLine(alg);
                return 0;
            default:
                // Postfix postconf_other.c: a warning and exit status 1, not a fatal error.
                ctx.Err.WriteLine($"postconf: warning: unknown 'postconf -T' mode: {mode}");
                return 1;
        }
    }

    /// <summary>".NET 10.0 SslStream", from the target framework Posthorn was built for.</summary>
    internal static string CompileVersion()
    {
        string framework = typeof(Postconf).Assembly.GetCustomAttribute<TargetFrameworkAttribute>()?.FrameworkName ?? "";
        int v = framework.IndexOf("Version=v", StringComparison.Ordinal);
        string version = v >= 0 ? framework[(v + "Version=v".Length)..] : Environment.Version.ToString(2);
        return $".NET {version} SslStream";
    }

    /// <summary>The version of the OpenSSL library that .NET loaded, as "OpenSSL x.y.z"; null off Linux.</summary>
    internal static string? RunVersion()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return FormatOpenSslVersion(SafeEvpPKeyHandle.OpenSslVersion);
        }
        catch (Exception e) when (e is PlatformNotSupportedException or CryptographicException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>OPENSSL_VERSION_NUMBER as text. OpenSSL 3: 0xMNN00PP0 (major, minor, patch); before 3:
    /// 0xMNNFFPPS (major, minor, fix, patch letter, status), as OpenSSL's OPENSSL_VERSION_NUMBER(3) describes.</summary>
    internal static string FormatOpenSslVersion(long number)
    {
        long major = (number >> 28) & 0xF;
        long minor = (number >> 20) & 0xFF;
        if (major >= 3)
            return $"OpenSSL {major}.{minor}.{(number >> 4) & 0xFF}";
        long fix = (number >> 12) & 0xFF;
        long patch = (number >> 4) & 0xFF;
        string letter = patch is > 0 and <= 26 ? ((char)('a' + patch - 1)).ToString() : "";
        return $"OpenSSL {major}.{minor}.{fix}{letter}";
    }
}
