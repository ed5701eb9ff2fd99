using System.Collections.Concurrent;
using Posthorn.Config.Tables;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Outbound;

namespace Posthorn.Daemon.Qmgr;

/// <summary>The delivery agents, built for the settings snapshot in force (reload swaps them).</summary>
/// <remarks>smtp(8) and lmtp(8) clients are built per master.cf transport, so a row's <c>-o</c> overrides
/// (<c>relay unix - - n - - smtp -o smtp_fallback_relay=</c>) apply to that transport only.</remarks>
public sealed class Transports(IUserDatabase users, MailLog log, TimeProvider clock)
{
    private (Settings Settings, LocalTransport Transport)? _local;
    private volatile Snapshot? _snapshot;

    /// <summary>What is built from one settings snapshot.</summary>
    private sealed class Snapshot(Settings settings)
    {
        public Settings Settings { get; } = settings;
        public ConcurrentDictionary<string, TransportService?> Services { get; } = new(StringComparer.Ordinal);
        public ConcurrentDictionary<string, SmtpTransport> Smtp { get; } = new(StringComparer.Ordinal);
        public ConcurrentDictionary<string, LmtpTransport> Lmtp { get; } = new(StringComparer.Ordinal);
        public VirtualTransport? Virtual { get; set; }
    }

    public IUserDatabase Users => users;

    /// <summary>Replaces DNS (tests); null means DnsClient with posthorn_dns_servers or /etc/resolv.conf.</summary>
    public IDnsResolver? Dns { get; init; }

    public LocalTransport Local(Settings s)
    {
        var cached = _local;
        if (cached is { } c && ReferenceEquals(c.Settings, s)) return c.Transport;
        var cfg = s.Config;
        // The local(8) parameters that only the queue manager's instance needs (smtpd's copy answers recipient checks).
        var options = s.Local with
        {
            MailboxTransportMaps = OpenMaps(s, "mailbox_transport_maps"),
            FallbackTransportMaps = OpenMaps(s, "fallback_transport_maps"),
            SoftBounce = cfg.GetBool("soft_bounce"),
        };
        var transport = new LocalTransport(options, users, clock, log);
        _local = (s, transport);
        return transport;
    }

    /// <summary>The master.cf transport <paramref name="name"/>, or null when master.cf has none.</summary>
    public TransportService? Service(Settings s, string name) =>
        For(s).Services.GetOrAdd(name, n => TransportService.Find(s.Config, n));

    public SmtpTransport Smtp(Settings s, TransportService service) =>
        For(s).Smtp.GetOrAdd(service.Name, _ =>
        {
            var o = OutboundSettings.From(service.Config, lmtp: false);
            return new SmtpTransport(o.Smtp, Resolver(o), log, clock);
        });

    public LmtpTransport Lmtp(Settings s, TransportService service) =>
        For(s).Lmtp.GetOrAdd(service.Name, _ =>
        {
            var o = OutboundSettings.From(service.Config, lmtp: true);
            return new LmtpTransport(o.Smtp, Resolver(o), log, clock, o.MyHostname);
        });

    /// <summary>virtual(8) with the virtual_* maps of the snapshot.</summary>
    public VirtualTransport Virtual(Settings s)
    {
        var snap = For(s);
        return snap.Virtual ??= new VirtualTransport(VirtualOptions(s), clock, log);
    }

    private NextHopResolver Resolver(OutboundSettings o) =>
        new(Dns ?? new DnsClientResolver(o.DnsServers, TimeSpan.FromSeconds(5)), o.Lookup, Random.Shared);

    private Snapshot For(Settings s)
    {
        var snap = _snapshot;
        if (snap is not null && ReferenceEquals(snap.Settings, s)) return snap;
        snap = new Snapshot(s);
        _snapshot = snap;
        return snap;
    }

    /// <summary>The tables of a maps parameter as one lookup function, null when the parameter is empty. A table that
    /// cannot answer throws LookupTableException; the recipient is deferred.</summary>
    private static Func<string, string?>? OpenMaps(Settings s, string parameter)
    {
        var cfg = s.Config;
        var tables = cfg.GetList(parameter).Select(spec => LookupTables.OpenOrFail(spec, cfg.TableOptions)).ToArray();
        return tables.Length == 0 ? null : key => LookupTables.TryLookup(tables, key, out var v) ? v : null;
    }

    /// <summary>virtual(8)'s parameters; the maps are opened once per snapshot.</summary>
    private static VirtualDeliveryOptions VirtualOptions(Settings s)
    {
        var cfg = s.Config;
        Func<string, string?> Maps(string parameter) => OpenMaps(s, parameter) ?? (_ => null);
        return new VirtualDeliveryOptions
        {
            MyHostname = cfg.Get("myhostname"),
            MailboxDomains = cfg.DomainListOf("virtual_mailbox_domains").Names,
            MailboxBase = cfg.Get("virtual_mailbox_base"),
            MailboxMaps = Maps("virtual_mailbox_maps"),
            UidMaps = Maps("virtual_uid_maps"),
            GidMaps = Maps("virtual_gid_maps"),
            MinimumUid = cfg.GetNumber("virtual_minimum_uid"),
            MailboxLimit = cfg.GetSize("virtual_mailbox_limit"),
            RecipientDelimiter = cfg.Get("recipient_delimiter"),
            SoftBounce = cfg.GetBool("soft_bounce"),
        };
    }
}
