using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Outbound;

namespace Posthorn.Daemon.Qmgr;

/// <summary>The delivery agents, built for the settings snapshot in force (reload swaps them).</summary>
public sealed class Transports(IUserDatabase users, MailLog log, TimeProvider clock)
{
    private (Settings Settings, LocalTransport Transport)? _local;
    private (Settings Settings, SmtpTransport Transport)? _smtp;

    public IUserDatabase Users => users;

    /// <summary>Replaces DNS (tests); null means DnsClient with posthorn_dns_servers or /etc/resolv.conf.</summary>
    public IDnsResolver? Dns { get; init; }

    public LocalTransport Local(Settings s)
    {
        var cached = _local;
        if (cached is { } c && ReferenceEquals(c.Settings, s)) return c.Transport;
        var transport = new LocalTransport(s.Local, users, clock, log);
        _local = (s, transport);
        return transport;
    }

    public SmtpTransport Smtp(Settings s)
    {
        var cached = _smtp;
        if (cached is { } c && ReferenceEquals(c.Settings, s)) return c.Transport;
        var o = s.Outbound;
        var dns = Dns ?? new DnsClientResolver(o.DnsServers, TimeSpan.FromSeconds(5));
        var transport = new SmtpTransport(o.Smtp, new NextHopResolver(dns, o.Lookup, Random.Shared), log, clock);
        _smtp = (s, transport);
        return transport;
    }
}
