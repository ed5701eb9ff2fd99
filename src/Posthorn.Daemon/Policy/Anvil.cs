using System.Collections.Concurrent;

namespace Posthorn.Daemon.Policy;

/// <summary>anvil(8)'s rate counters: events per client and service within one anvil_rate_time_unit.</summary>
/// <remarks>Postfix anvil(8): "the rate is the number of events per time unit"; a client's counter starts with
/// its first event and is reset once a full time unit has passed since then. The counters are in memory only and
/// bounded: a client idle for a whole time unit is forgotten at the next sweep.
/// Security: keys are the client's numeric address, never anything the client says.</remarks>
public sealed class Anvil(TimeProvider clock, TimeSpan unit)
{
    private sealed class Window
    {
        public DateTimeOffset Start;
        public int Count;
    }

    private readonly ConcurrentDictionary<(string Kind, string Service, string Client), Window> _windows = new();
    private DateTimeOffset _lastSweep = DateTimeOffset.MinValue;

    public TimeSpan Unit => unit;

    /// <summary>Counts one event of <paramref name="kind"/> (message, recipient) for the client and returns the
    /// number of such events in the client's current time unit, this one included.</summary>
    public int Count(string kind, string service, string client)
    {
        var now = clock.GetUtcNow();
        Sweep(now);
        var window = _windows.GetOrAdd((kind, service, client), _ => new Window { Start = now });
        lock (window)
        {
            if (now - window.Start >= unit)
            {
                window.Start = now;
                window.Count = 0;
            }
            return ++window.Count;
        }
    }

    /// <summary>Drops the counters of clients whose time unit has run out (at most once per time unit).</summary>
    private void Sweep(DateTimeOffset now)
    {
        if (now - _lastSweep < unit) return;
        _lastSweep = now;
        foreach (var (key, window) in _windows)
        {
            bool expired;
            lock (window) expired = now - window.Start >= unit;
            if (expired) _windows.TryRemove(key, out _);
        }
    }
}

/// <summary>smtpd's rate limits on top of <see cref="Anvil"/>: smtpd_client_message_rate_limit at MAIL FROM and
/// smtpd_client_recipient_rate_limit at RCPT TO, with Postfix's replies and warnings. Clients in
/// smtpd_client_event_limit_exceptions (default $mynetworks) are not limited.</summary>
public sealed class RateLimits(RestrictionSettings restrictions, Anvil anvil, Posthorn.Logging.MailLog log)
{
    /// <summary>The refusal of a MAIL FROM over the message rate, or null.</summary>
    public Posthorn.Core.SmtpReply? CheckMessage(Posthorn.Smtp.SmtpSessionInfo session) =>
        Check(session, "message", restrictions.MessageRateLimit, "Message delivery request",
            $"Error: too much mail from {session.AddressText}");

    /// <summary>The refusal of a RCPT TO over the recipient rate, or null.</summary>
    public Posthorn.Core.SmtpReply? CheckRecipient(Posthorn.Smtp.SmtpSessionInfo session) =>
        Check(session, "recipient", restrictions.RecipientRateLimit, "Recipient address",
            $"Error: too many recipients from {session.AddressText}");

    private Posthorn.Core.SmtpReply? Check(Posthorn.Smtp.SmtpSessionInfo session, string kind, int limit, string what, string text)
    {
        if (limit <= 0 || restrictions.EventLimitExceptions.Contains(session.Client.Address))
            return null;
        int rate = anvil.Count(kind, session.ServiceName, session.AddressText);
        if (rate <= limit)
            return null;
        // Postfix smtpd.c: "warning: Message delivery request rate limit exceeded: 11 from host[addr] for service smtp".
        log.Warning("smtpd", $"{what} rate limit exceeded: {rate} from {session.ClientDescription} for service {session.ServiceName}");
        return new Posthorn.Core.SmtpReply(450, "4.7.1", text);
    }
}
