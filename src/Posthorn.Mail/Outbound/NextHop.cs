namespace Posthorn.Mail.Outbound;

/// <summary>A next-hop destination as Postfix writes it in <c>relayhost</c>, transport(5) and
/// <c>default_transport</c>: <c>domain</c>, <c>domain:port</c>, <c>[host]</c>, <c>[host]:port</c>, <c>[ip]</c>.</summary>
/// <param name="Host">The domain or host name, or an IP address, without brackets.</param>
/// <param name="Port">The TCP port (25 unless given).</param>
/// <param name="SkipMx">Written in brackets: Postfix smtp(8) "suppress MX lookups".</param>
public readonly record struct NextHop(string Host, int Port, bool SkipMx)
{
    public const int SmtpPort = 25;

    /// <summary>Parses a next-hop text.</summary>
    /// <remarks>Postfix smtp(8) NEXTHOP: <c>[host]:port</c>, <c>[ipv6:addr]</c> keeps the <c>ipv6:</c> prefix
    /// form of RFC 5321 §4.1.3; a bare <c>host:port</c> still looks up MX records.</remarks>
    public static bool TryParse(string text, out NextHop hop)
    {
        hop = default;
        var s = text.Trim();
        if (s.StartsWith("smtp:", StringComparison.OrdinalIgnoreCase)) s = s[5..];
        bool brackets = s.StartsWith('[');
        string host;
        string rest;
        if (brackets)
        {
            int close = s.IndexOf(']');
            if (close < 2) return false;
            host = s[1..close];
            if (host.StartsWith("ipv6:", StringComparison.OrdinalIgnoreCase)) host = host[5..];
            rest = s[(close + 1)..];
        }
        else
        {
            int colon = s.IndexOf(':');
            host = colon < 0 ? s : s[..colon];
            rest = colon < 0 ? "" : s[colon..];
        }
        int port = SmtpPort;
        if (rest.Length > 0)
        {
            if (rest[0] != ':' || !int.TryParse(rest.AsSpan(1), System.Globalization.NumberStyles.None, null, out port)
                || port is < 1 or > 65535)
                return false;
        }
        if (host.Length == 0) return false;
        hop = new NextHop(host.TrimEnd('.'), port, brackets);
        return true;
    }

    /// <summary>The next hop for mail to <paramref name="domain"/> without a relayhost.</summary>
    public static NextHop ForDomain(string domain)
    {
        // RFC 5321 §4.1.3: an address literal [1.2.3.4] goes to that address, without MX.
        if (domain.StartsWith('[') && TryParse(domain, out var literal)) return literal;
        return new NextHop(domain.TrimEnd('.'), SmtpPort, false);
    }

    public override string ToString() =>
        SkipMx ? (Port == SmtpPort ? $"[{Host}]" : $"[{Host}]:{Port}") : (Port == SmtpPort ? Host : $"{Host}:{Port}");
}

/// <summary>One address to try: the name it came from (the MX host), its address and port.</summary>
public sealed record SmtpServerAddress(string HostName, System.Net.IPAddress Address, int Port)
{
    /// <summary>A Unix-domain socket to connect to instead of <see cref="Address"/> (LMTP <c>unix:</c> next hops).</summary>
    public string? SocketPath { get; init; }

    /// <summary>A server reached over a Unix-domain socket; <paramref name="hostName"/> names it in logs.</summary>
    public static SmtpServerAddress Unix(string hostName, string path) =>
        new(hostName, System.Net.IPAddress.None, 0) { SocketPath = path };

    /// <summary>Postfix's relay notation: <c>mx.example[192.0.2.1]:25</c>, or <c>host[/path]</c> for a socket
    /// (Postfix lmtp(8) logs <c>relay=host[private/dovecot-lmtp]</c>).</summary>
    public override string ToString() => SocketPath is null ? $"{HostName}[{Address}]:{Port}" : $"{HostName}[{SocketPath}]";

    /// <summary><c>mx.example[192.0.2.1]</c>, as Postfix names the peer in "host … said:".</summary>
    public string HostAndAddress => SocketPath is null ? $"{HostName}[{Address}]" : $"{HostName}[{SocketPath}]";
}
