namespace Posthorn.Mail.Outbound;

/// <summary>Idle SMTP sessions kept open after a delivery, for the next message to the same server
/// (Postfix scache(8), smtp_connection_cache_on_demand).</summary>
/// <remarks>Postfix postconf(5) smtp_connection_cache_time_limit: "when SMTP connection caching is
/// enabled, the amount of time that an unused SMTP client socket is kept open before it is closed".
/// Each idle session has a timer on the injected clock that closes it at that limit; taking it
/// first stops the timer. Thread-safe: deliveries run in parallel.</remarks>
internal sealed class SmtpConnectionCache(TimeSpan timeLimit, TimeProvider clock)
{
    private sealed record Entry(SmtpConnection Connection, Dictionary<string, string> Ehlo)
    {
        public ITimer? Timer { get; set; }
    }

    private readonly Dictionary<string, List<Entry>> _idle = new(StringComparer.Ordinal);

    /// <summary>Keeps <paramref name="connection"/> (after a completed transaction) for reuse.</summary>
    public void Put(SmtpConnection connection, Dictionary<string, string> ehlo)
    {
        var entry = new Entry(connection, ehlo);
        string key = connection.Server.ToString();
        lock (_idle)
        {
            if (!_idle.TryGetValue(key, out var list)) _idle[key] = list = [];
            list.Add(entry);
            entry.Timer = clock.CreateTimer(_ => Expire(key, entry), null, timeLimit, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>An idle session to <paramref name="server"/>, most recent first, with its EHLO keywords.</summary>
    public bool TryTake(SmtpServerAddress server, out SmtpConnection connection, out Dictionary<string, string> ehlo)
    {
        lock (_idle)
        {
            if (_idle.TryGetValue(server.ToString(), out var list) && list.Count > 0)
            {
                var entry = list[^1];
                list.RemoveAt(list.Count - 1);
                entry.Timer?.Dispose();
                (connection, ehlo) = (entry.Connection, entry.Ehlo);
                return true;
            }
        }
        (connection, ehlo) = (null!, null!);
        return false;
    }

    private void Expire(string key, Entry entry)
    {
        lock (_idle)
        {
            if (!_idle.TryGetValue(key, out var list) || !list.Remove(entry)) return;   // taken meanwhile
            entry.Timer?.Dispose();
        }
        // Closed without QUIT, as Postfix's scache closes an expired socket.
        _ = entry.Connection.DisposeAsync().AsTask();
    }
}
