using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;

namespace Posthorn.Daemon.Qmgr;

/// <summary>The delivery agents, built for the settings snapshot in force (reload swaps them).</summary>
public sealed class Transports(IUserDatabase users, MailLog log, TimeProvider clock)
{
    private (Settings Settings, LocalTransport Transport)? _local;

    public IUserDatabase Users => users;

    public LocalTransport Local(Settings s)
    {
        var cached = _local;
        if (cached is { } c && ReferenceEquals(c.Settings, s)) return c.Transport;
        var transport = new LocalTransport(s.Local, users, clock, log);
        _local = (s, transport);
        return transport;
    }
}
