using System.Globalization;

namespace Posthorn.Config;

/// <summary>services(5): TCP port numbers by service name, with a built-in table for the mail services.</summary>
internal static class ServicesFile
{
    private static readonly Dictionary<string, int> Fallback = new(StringComparer.OrdinalIgnoreCase)
    {
        ["smtp"] = 25, ["submission"] = 587, ["submissions"] = 465, ["smtps"] = 465, ["imap"] = 143,
        ["imaps"] = 993, ["pop3"] = 110, ["pop3s"] = 995, ["lmtp"] = 24,
    };

    /// <summary>The TCP port of <paramref name="service"/> from /etc/services, else the built-in table.</summary>
    public static int? Lookup(string service) => Lookup(service, "/etc/services");

    internal static int? Lookup(string service, string path)
    {
        try
        {
            foreach (string raw in File.ReadLines(path))
            {
                int hash = raw.IndexOf('#');
                string line = hash >= 0 ? raw[..hash] : raw;
                string[] f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 2 || !f[1].EndsWith("/tcp", StringComparison.Ordinal))
                    continue;
                bool named = f[0].Equals(service, StringComparison.OrdinalIgnoreCase)
                    || f.Skip(2).Any(alias => alias.Equals(service, StringComparison.OrdinalIgnoreCase));
                if (named && int.TryParse(f[1].AsSpan(0, f[1].Length - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int port))
                    return port;
            }
        }
        catch (IOException)
        {
            // No services file: the built-in table answers.
        }
        catch (UnauthorizedAccessException)
        {
            // Unreadable services file: the built-in table answers.
        }
        return Fallback.TryGetValue(service, out int p) ? p : null;
    }
}
