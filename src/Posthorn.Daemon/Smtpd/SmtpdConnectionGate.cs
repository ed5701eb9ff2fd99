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
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        if (exceptions.Contains(client)) return null;
        int rate = anvil.Count(kind, service, client.ToString());
        if (rate <= limit) return null;
        log.Warning("smtpd", $"{what} rate limit exceeded: {rate} from {clientDescription} for service {service}");
        return rate;
    }
}

/// <summary>What smtpd checks when a connection arrives, before the session starts: the daemon-wide
/// connection limit and smtpd_client_connection_rate_limit.</summary>
/// <remarks>
/// Postfix bounds smtpd by the master.cf process limit; Posthorn runs sessions as tasks in one process, so
/// posthorn_max_smtpd_connections (a Posthorn extension) bounds them instead, across all smtpd services: an
/// extra connection gets "421 4.3.2 All server ports are busy" (Postfix's wording when no server is free) and
/// is closed, so that thousands of idle clients cannot starve the process.
/// Parameters: posthorn_max_smtpd_connections, smtpd_client_connection_rate_limit, anvil_rate_time_unit,
/// smtpd_client_event_limit_exceptions.
/// </remarks>
public sealed class SmtpdConnectionGate(TimeProvider clock)
{
    private int _open;

    /// <summary>The connection-rate counters of each settings snapshot (one per listener and reload), kept as long as it is.</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<ConfigSnapshot, StrongBox> _rates = [];

    private sealed class StrongBox(ClientRateLimit? value)
    {
        public ClientRateLimit? Value { get; } = value;
    }

    /// <summary>Admits the session's connection, or writes the refusal (within <paramref name="timeout"/>) and
    /// returns false; the caller then closes the connection. After true, call <see cref="Release"/> at the end.</summary>
    public async Task<bool> TryAdmitAsync(ConfigSnapshot cfg, Posthorn.Smtp.SmtpSessionInfo session, Stream stream,
        MailLog log, TimeSpan timeout)
    {
        var rate = _rates.GetValue(cfg, c => new StrongBox(ClientRateLimit.From(c, "smtpd_client_connection_rate_limit", log, clock))).Value;
        var refusal = Admit((int)cfg.GetNumber("posthorn_max_smtpd_connections"), rate, session.ServiceName,
            session.Client.Address, session.ClientDescription, cfg.Get("myhostname"), log);
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
        return false;
    }

    /// <summary>The number of admitted sessions not yet released.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Admits one connection: null when admitted (call <see cref="Release"/> when the session ends),
    /// or the reply to send before closing it.</summary>
    public SmtpReply? Admit(int maxConnections, ClientRateLimit? connectionRate, string service, IPAddress client,
        string clientDescription, string hostname, MailLog log)
    {
        int open = Interlocked.Increment(ref _open);
        if (maxConnections > 0 && open > maxConnections)
        {
            Interlocked.Decrement(ref _open);
            log.Warning("smtpd", $"too many smtpd connections ({maxConnections}, posthorn_max_smtpd_connections); refusing {clientDescription}");
            return new SmtpReply(421, "4.3.2", "All server ports are busy");
        }
        // Postfix smtpd(8): "421 4.7.0 host Error: too many connections from addr", after the warning
        // "Connection rate limit exceeded: N from host[addr] for service smtp".
        if (connectionRate?.Check("connection", service, client, clientDescription, "Connection") is not null)
        {
            Interlocked.Decrement(ref _open);
            string address = (client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client).ToString();
            return new SmtpReply(421, "4.7.0", $"{hostname} Error: too many connections from {address}");
        }
        return null;
    }

    public void Release() => Interlocked.Decrement(ref _open);
}
