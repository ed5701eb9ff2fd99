using System.Collections.Concurrent;
using System.Globalization;
using System.Net;

namespace Posthorn.Daemon.Policy;

/// <summary>The client events anvil(8) counts.</summary>
public enum AnvilEvent : byte { Connection, Message, Recipient, Auth }

/// <summary>anvil(8) as a view: one daemon-wide registry of client activity per (service, client address) —
/// connections open now, and connection, message, recipient and AUTH rates within anvil_rate_time_unit — plus the
/// maxima Postfix's anvil logs as "statistics:" lines. Printed by <c>posthorn anvil</c>.</summary>
/// <remarks>
/// Postfix anvil(8): "the rate is the number of events per time unit"; a rate window starts with its first event and
/// is restarted once a whole time unit has passed. The registry counts always, whatever the limits say: the limits
/// themselves (<see cref="Anvil"/>, <see cref="Smtpd.ClientRateLimit"/>, <see cref="Smtpd.SmtpdConnectionGate"/>)
/// keep their own counters and are not changed by it.
/// Bounded memory: an entry with no open connection and no event for a whole time unit is dropped at the next sweep
/// (at most one sweep per time unit), as anvil drops idle clients.
/// Parameters: anvil_rate_time_unit (taken when the daemon starts).
/// Security: keyed by the master.cf service name and the client's numeric address only.
/// </remarks>
public sealed class AnvilRegistry(TimeProvider clock, TimeSpan unit)
{
    private const int Kinds = 4;

    private sealed class Entry
    {
        public int Connections;
        public readonly DateTimeOffset[] Start = new DateTimeOffset[Kinds];
        public readonly int[] Count = new int[Kinds];
        public DateTimeOffset LastEvent;
        public bool Removed;
    }

    private sealed class Maximum
    {
        public int Value;
        public string Key = "";
        public DateTimeOffset At;
    }

    private readonly ConcurrentDictionary<(string Service, string Client), Entry> _entries = new();
    private readonly Maximum[] _maxRate = [new(), new(), new(), new()];
    private readonly Maximum _maxCount = new();
    private readonly Maximum _maxCache = new();
    private DateTimeOffset _lastSweep = DateTimeOffset.MinValue;

    public TimeSpan Unit => unit;

    /// <summary>A connection was admitted: one more open connection and one more in the connection rate.</summary>
    public void Connect(string service, IPAddress client) => Update(service, client, e =>
    {
        e.Connections++;
        return (Count(e, AnvilEvent.Connection), e.Connections);
    }, AnvilEvent.Connection);

    /// <summary>A connection counted by <see cref="Connect"/> ended.</summary>
    public void Disconnect(string service, IPAddress client) => Update(service, client, e =>
    {
        if (e.Connections > 0) e.Connections--;
        return (0, 0);
    }, kind: null);

    /// <summary>One MAIL FROM, RCPT TO or AUTH of the client (a connection goes through <see cref="Connect"/>).</summary>
    public void Record(AnvilEvent kind, string service, IPAddress client) =>
        Update(service, client, e => (Count(e, kind), 0), kind);

    private void Update(string service, IPAddress client, Func<Entry, (int Rate, int Connections)> change, AnvilEvent? kind)
    {
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        var key = (service, client.ToString());
        var now = clock.GetUtcNow();
        Sweep(now);
        while (true)
        {
            var entry = _entries.GetOrAdd(key, _ => new Entry());
            (int Rate, int Connections) result;
            lock (entry)
            {
                if (entry.Removed) continue;   // swept away between the lookup and the lock: take a fresh one
                result = change(entry);
                entry.LastEvent = now;
            }
            string name = $"{service}:{key.Item2}";
            if (kind is { } k) Raise(_maxRate[(int)k], result.Rate, name, now);
            if (kind == AnvilEvent.Connection) Raise(_maxCount, result.Connections, name, now);
            Raise(_maxCache, _entries.Count, "", now);
            return;
        }
    }

    /// <summary>Counts one event in the entry's window of <paramref name="kind"/> (called under the entry's lock).</summary>
    private int Count(Entry e, AnvilEvent kind)
    {
        int i = (int)kind;
        var now = clock.GetUtcNow();
        if (e.Count[i] == 0 || now - e.Start[i] >= unit)
        {
            e.Start[i] = now;
            e.Count[i] = 0;
        }
        return ++e.Count[i];
    }

    private static void Raise(Maximum max, int value, string key, DateTimeOffset now)
    {
        lock (max)
        {
            if (value <= max.Value) return;
            (max.Value, max.Key, max.At) = (value, key, now);
        }
    }

    /// <summary>Drops entries with no open connection that saw no event for a whole time unit.</summary>
    private void Sweep(DateTimeOffset now)
    {
        lock (_entries)
        {
            if (now - _lastSweep < unit) return;
            _lastSweep = now;
        }
        foreach (var (key, entry) in _entries)
        {
            lock (entry)
            {
                if (entry.Connections > 0 || now - entry.LastEvent < unit) continue;
                entry.Removed = true;
                _entries.TryRemove(key, out _);
            }
        }
    }

    /// <summary>The registry now: one row per (service, client), rates as counted in the current time unit
    /// (0 once the unit has run out), and the maxima since the daemon started.</summary>
    public AnvilView Snapshot()
    {
        var now = clock.GetUtcNow();
        Sweep(now);
        var rows = new List<AnvilEntry>();
        foreach (var ((service, client), entry) in _entries)
        {
            lock (entry)
            {
                if (entry.Removed) continue;
                int Rate(AnvilEvent k) => entry.Count[(int)k] > 0 && now - entry.Start[(int)k] < unit ? entry.Count[(int)k] : 0;
                rows.Add(new AnvilEntry(service, client, entry.Connections, Rate(AnvilEvent.Connection), Rate(AnvilEvent.Message),
                    Rate(AnvilEvent.Recipient), Rate(AnvilEvent.Auth), entry.LastEvent));
            }
        }
        rows.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        var maxima = new List<AnvilMaximum>();
        void Add(string what, Maximum m, bool rate)
        {
            lock (m)
            {
                if (m.Value > 0) maxima.Add(new AnvilMaximum(what, m.Value, rate, m.Key, m.At));
            }
        }
        // Postfix anvil.c anvil_status_dump: the order of its "statistics:" lines.
        Add("connection rate", _maxRate[(int)AnvilEvent.Connection], rate: true);
        Add("connection count", _maxCount, rate: false);
        Add("message rate", _maxRate[(int)AnvilEvent.Message], rate: true);
        Add("recipient rate", _maxRate[(int)AnvilEvent.Recipient], rate: true);
        Add("auth rate", _maxRate[(int)AnvilEvent.Auth], rate: true);
        Add("cache size", _maxCache, rate: false);
        return new AnvilView(unit, rows, maxima);
    }
}

/// <summary>One (service, client) row of <see cref="AnvilRegistry.Snapshot"/>.</summary>
public sealed record AnvilEntry(string Service, string Client, int Connections, int ConnectionRate, int MessageRate,
    int RecipientRate, int AuthRate, DateTimeOffset LastEvent)
{
    /// <summary>anvil's key, <c>service:address</c> (e.g. <c>smtp:127.0.0.1</c>).</summary>
    public string Key => $"{Service}:{Client}";
}

/// <summary>One maximum of anvil's statistics: the value, whose it was (<c>service:address</c>; empty for the cache
/// size) and when.</summary>
public sealed record AnvilMaximum(string What, int Value, bool IsRate, string Key, DateTimeOffset At);

/// <summary>What <c>posthorn anvil</c> prints.</summary>
public sealed record AnvilView(TimeSpan Unit, IReadOnlyList<AnvilEntry> Entries, IReadOnlyList<AnvilMaximum> Maxima)
{
    /// <summary>Postfix anvil(8)'s statistics lines (<c>statistics: max connection rate 3/60s for (smtp:127.0.0.1) at
    /// Nov 25 19:50:01</c>, the time as ctime's "%.15s" after the weekday), then the current table.</summary>
    public IReadOnlyList<string> Format(TimeZoneInfo zone)
    {
        var ci = CultureInfo.InvariantCulture;
        long seconds = (long)Unit.TotalSeconds;
        var lines = new List<string>();
        foreach (var m in Maxima)
        {
            var local = TimeZoneInfo.ConvertTime(m.At, zone);
            string at = local.ToString("MMM ", ci) + local.Day.ToString(ci).PadLeft(2) + local.ToString(" HH:mm:ss", ci);
            string value = m.IsRate ? $"{m.Value}/{seconds}s" : m.Value.ToString(ci);
            lines.Add(m.Key.Length == 0
                ? $"statistics: max {m.What} {value} at {at}"
                : $"statistics: max {m.What} {value} for ({m.Key}) at {at}");
        }
        int width = Math.Max("service:client".Length, Entries.Count == 0 ? 0 : Entries.Max(e => e.Key.Length));
        lines.Add($"{"service:client".PadRight(width)}  {"conn",5} {"conn-rate",10} {"msg-rate",10} {"rcpt-rate",10} {"auth-rate",10}");
        foreach (var e in Entries)
        {
            string Rate(int n) => $"{n}/{seconds}s";
            lines.Add($"{e.Key.PadRight(width)}  {e.Connections,5} {Rate(e.ConnectionRate),10} {Rate(e.MessageRate),10} "
                + $"{Rate(e.RecipientRate),10} {Rate(e.AuthRate),10}");
        }
        return lines;
    }
}
