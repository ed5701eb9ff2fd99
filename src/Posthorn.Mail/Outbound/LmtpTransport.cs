using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Outbound;

/// <summary>An lmtp(8) next hop: a Unix-domain socket or a TCP host and port.</summary>
/// <param name="SocketPath">The socket for <c>unix:path</c>; null for TCP.</param>
/// <param name="Inet">The TCP host and port (no MX lookup) when <paramref name="SocketPath"/> is null.</param>
public readonly record struct LmtpDestination(string? SocketPath, NextHop Inet)
{
    /// <summary>The socket path as written in the next hop (<c>private/dovecot-lmtp</c>), before it was made
    /// absolute: the name lmtp_connection_cache_destinations matches.</summary>
    public string? WrittenPath { get; init; }

    /// <summary>RFC 2033 §1 leaves the port to the site; Postfix lmtp(8) uses the lmtp service, 24.</summary>
    public const int LmtpPort = 24;

    /// <summary>Parses a next hop as lmtp(8) reads it: <c>unix:/path</c>, <c>unix:private/name</c>
    /// (relative to <paramref name="queueDirectory"/>), <c>inet:host</c>, <c>inet:host:port</c>,
    /// <c>[host]:port</c>, <c>host:port</c> or <c>host</c>.</summary>
    /// <remarks>Postfix lmtp(8): "unix:pathname … relative to the Postfix queue directory";
    /// "inet:host, inet:host:port"; the default type is inet. lmtp(8) does no MX lookup, so a host
    /// name is looked up for its addresses only (brackets change nothing).</remarks>
    public static bool TryParse(string text, string queueDirectory, out LmtpDestination destination)
    {
        destination = default;
        string s = text.Trim();
        if (s.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
        {
            string path = s[5..];
            if (path.Length == 0) return false;
            destination = new LmtpDestination(Path.IsPathRooted(path) ? path : Path.Combine(queueDirectory, path), default) { WrittenPath = path };
            return true;
        }
        if (s.StartsWith("inet:", StringComparison.OrdinalIgnoreCase)) s = s[5..];
        if (!NextHop.TryParse(s, out var hop)) return false;
        bool portGiven = s.IndexOf(':', s.LastIndexOf(']') + 1) >= 0;
        destination = new LmtpDestination(null, hop with { Port = portGiven ? hop.Port : LmtpPort, SkipMx = true });
        return true;
    }

    public override string ToString() => SocketPath is { } p ? $"unix:{p}" : $"inet:{Inet.Host}:{Inet.Port}";
}

/// <summary>lmtp(8): delivers one message to the recipients of one LMTP next hop, usually a mailbox
/// store such as Dovecot (<c>mailbox_transport = lmtp:unix:private/dovecot-lmtp</c>).</summary>
/// <remarks>
/// Standards: RFC 2033 (LHLO; one reply per recipient after the final dot), RFC 2920, RFC 3463.
/// The dialogue is <see cref="SmtpTransport"/>'s with <see cref="SmtpClientOptions.Lmtp"/> set.
/// Security: talks to a local store; every reply read is bounded as smtp(8)'s.
/// Parameters (read by the caller): lmtp_lhlo_name, lmtp_connect_timeout, lmtp_lhlo_timeout,
/// lmtp_mail_timeout, lmtp_rcpt_timeout, lmtp_data_init_timeout, lmtp_data_xfer_timeout,
/// lmtp_data_done_timeout, lmtp_quit_timeout, lmtp_tls_security_level, queue_directory,
/// lmtp_connection_cache_on_demand, lmtp_connection_cache_time_limit, lmtp_rset_timeout, lmtp_connection_cache_destinations
/// (sessions are cached as smtp(8)'s: while more mail for the same socket or host waits, and always for the listed
/// destinations: a host name, or a socket path as written without <c>unix:</c>).
/// </remarks>
public sealed class LmtpTransport
{
    private readonly SmtpTransport _engine;
    private readonly NextHopResolver _resolver;
    private readonly string _localName;
    private readonly TimeProvider _clock;

    /// <param name="localName">The name a socket peer is logged under (<c>relay=NAME[/path]</c>): $myhostname.</param>
    public LmtpTransport(SmtpClientOptions options, NextHopResolver resolver, MailLog log, TimeProvider clock, string localName)
    {
        _engine = new SmtpTransport(options with { Lmtp = true, FallbackRelay = [] }, resolver, log, clock);
        _resolver = resolver;
        _localName = localName;
        _clock = clock;
    }

    /// <param name="backlog">Other deliveries to this destination are waiting: with lmtp_connection_cache_on_demand
    /// the session stays open for them (checked with RSET before reuse, RFC 2033 keeps RSET).</param>
    /// <returns>One result per recipient, in the order given; never throws for what the server does.</returns>
    public async Task<OutboundDeliveryResult> DeliverAsync(LmtpDestination destination, OutboundMessage message,
        IReadOnlyList<OutboundRecipient> recipients, CancellationToken ct, bool backlog = false)
    {
        if (destination.SocketPath is { } path)
            return await _engine.DeliverToAsync([SmtpServerAddress.Unix(_localName, path)], message, recipients, ct, backlog,
                new NextHop(destination.WrittenPath ?? path, 0, SkipMx: true)).ConfigureAwait(false);
        var start = _clock.GetUtcNow();
        var resolution = await _resolver.ResolveAsync(destination.Inet, ct).ConfigureAwait(false);
        if (!resolution.Found)
        {
            var results = recipients.Select(r => new OutboundRecipientResult(r, resolution.Outcome, resolution.Dsn, resolution.Error, "none", null, null)).ToArray();
            return new OutboundDeliveryResult(results, _clock.GetUtcNow() - start, TimeSpan.Zero);
        }
        return await _engine.DeliverToAsync(resolution.Servers, message, recipients, ct, backlog, destination.Inet).ConfigureAwait(false);
    }
}
