using System.Net;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Policy;
using Posthorn.Logging;

namespace Posthorn.Daemon.Smtpd;

/// <summary>One anvil(8) rate limit on client events (connections, AUTH commands): the limit, the counters and
/// the clients exempt from it.</summary>
/// <remarks>Parameters: the limit's own parameter, anvil_rate_time_unit, smtpd_client_event_limit_exceptions.
/// Security: counted by the client's numeric address only.</remarks>
public sealed class ClientRateLimit(int limit, NetworkList exceptions, Anvil anvil, MailLog log)
{
    public int Limit => limit;

    /// <summary>The limit named by <paramref name="parameter"/>, or null when it is 0 (no limit).</summary>
    public static ClientRateLimit? From(ConfigSnapshot cfg, string parameter, MailLog log, TimeProvider? clock = null)
    {
        int limit = (int)cfg.GetNumber(parameter);
        if (limit <= 0) return null;
        var exceptions = NetworkList.TryParse(cfg.Get("smtpd_client_event_limit_exceptions"), cfg.TableOptions, out var list, out _)
            ? list : NetworkList.Empty;
        return new ClientRateLimit(limit, exceptions, new Anvil(clock ?? TimeProvider.System, cfg.GetTime("anvil_rate_time_unit")), log);
    }

    /// <summary>Counts one event and returns the client's rate when it is over the limit (after logging
    /// Postfix's warning "<paramref name="what"/> rate limit exceeded: N from host[addr] for service S"), else null.</summary>
    public int? Check(string kind, string service, IPAddress client, string clientDescription, string what)
    {
        if (Exceeded(kind, service, client) is not { } rate) return null;
        Warn(rate, service, clientDescription, what);
        return rate;
    }

    /// <summary>Counts one event and returns the client's rate when it is over the limit, without logging.</summary>
    public int? Exceeded(string kind, string service, IPAddress client)
    {
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        if (exceptions.Contains(client)) return null;
        int rate = anvil.Count(kind, service, client.ToString());
        return rate <= limit ? null : rate;
    }

    /// <summary>Postfix's warning "<paramref name="what"/> rate limit exceeded: N from host[addr] for service S".</summary>
    public void Warn(int rate, string service, string clientDescription, string what) =>
        log.Warning("smtpd", $"{what} rate limit exceeded: {rate} from {clientDescription} for service {service}");
}

/// <summary>What smtpd checks when a connection arrives, before the session starts: the daemon-wide
/// connection limit, smtpd_client_connection_count_limit and smtpd_client_connection_rate_limit.</summary>
/// <remarks>
/// Postfix bounds smtpd by the master.cf process limit; Posthorn runs sessions as tasks in one process, so
/// posthorn_max_smtpd_connections (a Posthorn extension) bounds them instead, across all smtpd services: an
/// extra connection gets "421 4.3.2 All server ports are busy" (Postfix's wording when no server is free) and
/// is closed, so that thousands of idle clients cannot starve the process.
/// A refused connection is logged as Postfix smtpd logs one: "connect from", the warning, then
/// "disconnect from … commands=0".
/// The per-client concurrency counts belong to the gate, not to a settings snapshot, so a reload keeps them:
/// they count connections that are open, whatever settings admitted them.
/// Parameters: posthorn_max_smtpd_connections, smtpd_client_connection_count_limit,
/// smtpd_client_connection_rate_limit, anvil_rate_time_unit, smtpd_client_event_limit_exceptions.
/// Security: counted by the client's numeric address only.
/// </remarks>
public sealed class SmtpdConnectionGate(TimeProvider clock)
{
    private int _open;

    /// <summary>The daemon-wide activity view (<c>posthorn anvil</c>): told of every admitted and released connection.</summary>
    public AnvilRegistry? Activity { get; init; }
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Service, IPAddress Client), int> _perClient = new();

    /// <summary>The limits of each settings snapshot (one per listener and reload), kept as long as it is.</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<ConfigSnapshot, Limits> _limits = [];

    /// <summary>One snapshot's limits: the connection rate counters live as long as the snapshot does.</summary>
    public sealed record Limits(int MaxConnections, int CountLimit, NetworkList Exceptions, ClientRateLimit? Rate)
    {
        public static Limits From(ConfigSnapshot cfg, MailLog log, TimeProvider clock) => new(
            (int)cfg.GetNumber("posthorn_max_smtpd_connections"),
            (int)cfg.GetNumber("smtpd_client_connection_count_limit"),
            NetworkList.TryParse(cfg.Get("smtpd_client_event_limit_exceptions"), cfg.TableOptions, out var list, out _) ? list : NetworkList.Empty,
            ClientRateLimit.From(cfg, "smtpd_client_connection_rate_limit", log, clock));
    }

    /// <summary>Admits the session's connection, or logs and writes the refusal (within <paramref name="timeout"/>)
    /// and returns false; the caller then closes the connection. After true, call <see cref="Release"/> at the end.</summary>
    public async Task<bool> TryAdmitAsync(ConfigSnapshot cfg, Posthorn.Smtp.SmtpSessionInfo session, Stream stream,
        MailLog log, TimeSpan timeout)
    {
        var limits = _limits.GetValue(cfg, c => Limits.From(c, log, clock));
        var client = session.Client.Address;
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        var refusal = Admit(limits, session.ServiceName, client, session.ClientDescription, cfg.Get("myhostname"), log);
        if (refusal is not { } reply) return true;
        using var deadline = new CancellationTokenSource(timeout, clock);
        try
        {
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(Posthorn.Smtp.SmtpReplies.Format(reply)), deadline.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            // The client is gone or not reading: the connection is closed all the same.
        }
        log.SmtpdDisconnect(session.ClientDescription, "commands=0");
        return false;
    }

    /// <summary>The number of admitted sessions not yet released.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>The number of admitted sessions of <paramref name="client"/> on <paramref name="service"/>.</summary>
    public int OpenFrom(string service, IPAddress client) => _perClient.TryGetValue((service, client), out int n) ? n : 0;

    /// <summary>Admits one connection: null when admitted (call <see cref="Release"/> with the same service and
    /// client when the session ends; the session logs its own "connect from"), or the reply to send before
    /// closing it, after "connect from" and the warning are logged as Postfix smtpd(8) logs them.</summary>
    public SmtpReply? Admit(Limits limits, string service, IPAddress client, string clientDescription, string hostname, MailLog log)
    {
        int open = Interlocked.Increment(ref _open);
        if (limits.MaxConnections > 0 && open > limits.MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            log.SmtpdConnect(clientDescription);
            log.Warning("smtpd", $"too many smtpd connections ({limits.MaxConnections}, posthorn_max_smtpd_connections); refusing {clientDescription}");
            return new SmtpReply(421, "4.3.2", "All server ports are busy");
        }
        int fromClient = _perClient.AddOrUpdate((service, client), 1, (_, n) => n + 1);
        Activity?.Connect(service, client);   // Release (below or at the session's end) says Disconnect
        bool exempt = limits.Exceptions.Contains(client);
        // Postfix smtpd(8), smtpd_client_connection_count_limit: "421 4.7.0 host Error: too many connections
        // from addr", after the warning "Connection concurrency limit exceeded: N from host[addr] for service smtp".
        if (!exempt && limits.CountLimit > 0 && fromClient > limits.CountLimit)
        {
            Release(service, client);
            log.SmtpdConnect(clientDescription);
            log.Warning("smtpd", $"Connection concurrency limit exceeded: {fromClient} from {clientDescription} for service {service}");
            return TooManyConnections(hostname, client);
        }
        // smtpd_client_connection_rate_limit: the same reply after "Connection rate limit exceeded: …".
        if (limits.Rate?.Exceeded("connection", service, client) is { } rate)
        {
            Release(service, client);
            log.SmtpdConnect(clientDescription);
            limits.Rate.Warn(rate, service, clientDescription, "Connection");
            return TooManyConnections(hostname, client);
        }
        return null;
    }

    private static SmtpReply TooManyConnections(string hostname, IPAddress client) =>
        new(421, "4.7.0", $"{hostname} Error: too many connections from {client}");

    /// <summary>Ends one admitted session of <paramref name="client"/> on <paramref name="service"/>.</summary>
    public void Release(string service, IPAddress client)
    {
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        Interlocked.Decrement(ref _open);
        Activity?.Disconnect(service, client);
        var key = (service, client);
        while (_perClient.TryGetValue(key, out int n))
        {
            bool done = n <= 1
                ? _perClient.TryRemove(new KeyValuePair<(string, IPAddress), int>(key, n))
                : _perClient.TryUpdate(key, n - 1, n);
            if (done) return;
        }
    }
}
