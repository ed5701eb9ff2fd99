using System.Globalization;
using System.Net;

namespace Posthorn.Config;

/// <summary>One master.cf service line (Postfix master(5)).</summary>
/// <param name="Name">The service name: <c>smtp</c>, <c>2525</c>, <c>127.0.0.1:2525</c>, <c>[::1]:2525</c> for inet; a name otherwise.</param>
/// <param name="Type"><c>inet</c>, <c>unix</c>, <c>fifo</c>, <c>pass</c> or <c>unix-dgram</c>.</param>
/// <param name="Private">Column 3: <c>y</c>, <c>n</c> or <c>-</c> (default).</param>
/// <param name="Unprivileged">Column 4.</param>
/// <param name="Chroot">Column 5.</param>
/// <param name="Wakeup">Column 6.</param>
/// <param name="MaxProcesses">Column 7.</param>
/// <param name="Command">The program: <c>smtpd</c>, <c>local</c>, <c>imapd</c>…</param>
/// <param name="Arguments">Command arguments other than the <c>-o</c> pairs, braces removed.</param>
/// <param name="Overrides">The <c>-o name=value</c> pairs; a later one for the same name wins.</param>
/// <param name="Line">The master.cf line the service starts on.</param>
public sealed record MasterService(string Name, string Type, string Private, string Unprivileged, string Chroot,
    string Wakeup, string MaxProcesses, string Command, IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Overrides, int Line)
{
    /// <summary>All command arguments in file order, <c>-o</c> pairs normalised to <c>-o name=value</c> (for <c>postconf -M</c>).</summary>
    public IReadOnlyList<string> DisplayArguments { get; init; } = [];

    /// <summary>The addresses an <c>inet</c> service listens on: the host part of the name, or every
    /// inet_interfaces address; the port is numeric or a services(5) name. Empty for other types.</summary>
    /// <exception cref="ConfigException">An unknown service name or bad host.</exception>
    public IReadOnlyList<IPEndPoint> ResolveEndPoints(ConfigSnapshot cfg)
    {
        if (Type != "inet")
            return [];
        string host = "", port = Name;
        int colon = Name.LastIndexOf(':');
        if (colon >= 0 && !(Name.StartsWith('[') && Name.EndsWith(']')))
        {
            host = Name[..colon].Trim('[', ']');
            port = Name[(colon + 1)..];
        }
        string file = Path.Combine(cfg.ConfigDirectory, "master.cf");
        int number;
        if (int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is > 0 and < 65536)
            number = n;
        else if (cfg.Host.LookupService(port) is int p)
            number = p;
        else
            throw new ConfigException(file, Line, $"unknown service: {port}/tcp");

        IEnumerable<IPAddress> addresses;
        if (host.Length == 0 || host == "*")
            addresses = cfg.InetInterfaces();
        else if (IPAddress.TryParse(host, out var a))
            addresses = [a];
        else
        {
            try
            {
                addresses = cfg.Host.ResolveHost(host);
            }
            catch (System.Net.Sockets.SocketException)
            {
                throw new ConfigException(file, Line, $"host not found: {host}");
            }
        }
        return [.. addresses.Select(a => new IPEndPoint(a, number))];
    }
}
