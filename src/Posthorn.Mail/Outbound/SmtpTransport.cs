using System.Net.Sockets;
using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Outbound;

/// <summary>smtp(8): delivers one message to the recipients of one next hop, trying its servers in MX order.</summary>
/// <remarks>
/// Standards: RFC 5321, RFC 1869/5321 (EHLO, HELO fallback), RFC 2920 (PIPELINING), RFC 1870 (SIZE),
/// RFC 6152 (8BITMIME), RFC 3207 (STARTTLS), RFC 6125 (certificate names), RFC 4954 (AUTH) with RFC 4616 (PLAIN),
/// RFC 2195 (CRAM-MD5), RFC 5802/7677 (SCRAM-SHA-256), RFC 3030 (CHUNKING, as an extension), RFC 3463 (status
/// codes), RFC 7505 (null MX).
/// Security: talks to untrusted servers; every reply read is bounded in time, line length and line count. At TLS
/// levels may and encrypt the certificate is not checked (encryption against passive listeners only); at verify
/// and secure the chain must verify against smtp_tls_CAfile and a name must match, or the mail waits. Passwords
/// from smtp_sasl_password_maps go only to the server they were looked up for and are never logged.
/// Parameters: smtp_helo_name, smtp_connect_timeout, smtp_helo_timeout, smtp_mail_timeout,
/// smtp_rcpt_timeout, smtp_data_init_timeout, smtp_data_xfer_timeout, smtp_data_done_timeout,
/// smtp_quit_timeout, smtp_starttls_timeout, smtp_tls_security_level, smtp_tls_policy_maps, smtp_tls_CAfile,
/// smtp_tls_verify_cert_match, smtp_tls_secure_cert_match, smtp_sasl_auth_enable, smtp_sasl_password_maps,
/// smtp_sasl_security_options, smtp_sasl_tls_security_options, smtp_sasl_mechanism_filter,
/// smtp_sasl_auth_soft_bounce, posthorn_smtp_use_bdat, smtp_mx_address_limit,
/// smtp_mx_session_limit, smtp_host_lookup, smtp_bind_address, inet_protocols, smtp_fallback_relay,
/// smtp_connection_cache_on_demand, smtp_connection_cache_destinations, smtp_connection_cache_time_limit,
/// smtp_rset_timeout.
/// With <see cref="SmtpClientOptions.Lmtp"/> the same engine is lmtp(8) (RFC 2033, <see cref="LmtpTransport"/>).
/// Postfix smtp(8): a soft failure (connection, 4xx greeting, 4xx reply) leaves the recipient for
/// the next server; only after the last server does it become a deferral. A 5xx is final at once.
/// </remarks>
public sealed partial class SmtpTransport(SmtpClientOptions options, NextHopResolver resolver, MailLog log, TimeProvider clock)
{
    private static readonly EnhancedStatus ConnectFailed = new(4, 4, 1);
    private static readonly EnhancedStatus ConversationFailed = new(4, 4, 2);
    private static readonly EnhancedStatus TlsFailed = new(4, 7, 5);
    private static readonly EnhancedStatus NullMxStatus = new(5, 1, 10);
    private readonly SmtpConnectionCache? _cache = options.ConnectionCacheTimeLimit > TimeSpan.Zero
        && (options.ConnectionCacheOnDemand || options.ConnectionCacheDestination is not null)
        ? new SmtpConnectionCache(options.ConnectionCacheTimeLimit, clock) : null;
    private readonly Lazy<SmtpTlsVerifier> _verifier = new(() => new SmtpTlsVerifier(options.TlsCaFile, clock));

    /// <summary>Delivers <paramref name="message"/> to <paramref name="recipients"/>, all for <paramref name="hop"/>.</summary>
    /// <returns>One result per recipient, in the order given. Never throws for what a server or DNS does;
    /// cancellation of <paramref name="ct"/> throws.</returns>
    public Task<OutboundDeliveryResult> DeliverAsync(NextHop hop, OutboundMessage message,
        IReadOnlyList<OutboundRecipient> recipients, CancellationToken ct) => DeliverAsync(hop, message, recipients, backlog: false, ct);

    /// <param name="backlog">More deliveries to this next hop are waiting (Postfix qmgr's on-demand signal):
    /// with connection caching on, the session stays open for them for smtp_connection_cache_time_limit.</param>
    public async Task<OutboundDeliveryResult> DeliverAsync(NextHop hop, OutboundMessage message,
        IReadOnlyList<OutboundRecipient> recipients, bool backlog, CancellationToken ct)
    {
        var start = clock.GetUtcNow();
        var state = new DeliveryState(recipients) { KeepSession = (backlog && options.ConnectionCacheOnDemand) || CachedDestination(hop.Host), Hop = hop };
        if (!ApplyTlsPolicy(state, hop)) return state.Finish(clock.GetUtcNow() - start, TimeSpan.Zero);
        var resolution = await resolver.ResolveAsync(hop, ct).ConfigureAwait(false);
        // postconf(5) smtp_fallback_relay: for destinations "that can't be found or that are unreachable";
        // a null MX is the domain's own refusal, not a failure to find it.
        bool fallback = options.FallbackRelay.Count > 0 && resolution.Dsn != NullMxStatus;
        if (!resolution.Found)
        {
            if (!fallback)
            {
                state.FailAll(resolution.Outcome, resolution.Dsn, resolution.Error, "none", null, null);
                return state.Finish(clock.GetUtcNow() - start, TimeSpan.Zero);
            }
            state.SoftAll(resolution.Dsn with { Class = 4 }, resolution.Error, "none", null, null);
        }

        var sessions = new SessionCount();
        await TryServersAsync(resolution.Servers, message, state, sessions, ct).ConfigureAwait(false);
        // Postfix smtp(8): the fallback relays come after the destination's own servers, in the order given.
        for (int i = 0; fallback && i < options.FallbackRelay.Count && state.PendingCount > 0 && sessions.Value < options.MxSessionLimit; i++)
        {
            var relay = await resolver.ResolveAsync(options.FallbackRelay[i], ct).ConfigureAwait(false);
            state.Hop = options.FallbackRelay[i];
            if (relay.Found && ApplyTlsPolicy(state, options.FallbackRelay[i])) await TryServersAsync(relay.Servers, message, state, sessions, ct).ConfigureAwait(false);
        }
        var connected = state.ConnectedAt ?? clock.GetUtcNow();
        return state.Finish(connected - start, clock.GetUtcNow() - connected);
    }

    /// <summary>Delivers to servers already chosen (LMTP: a socket or a host without MX lookup).</summary>
    /// <param name="destination">The name smtp_connection_cache_destinations knows the destination by (a host,
    /// or a socket path without <c>unix:</c>), and the next hop for TLS name checks and SASL lookups.</param>
    internal async Task<OutboundDeliveryResult> DeliverToAsync(IReadOnlyList<SmtpServerAddress> servers, OutboundMessage message,
        IReadOnlyList<OutboundRecipient> recipients, CancellationToken ct, bool backlog = false, NextHop? destination = null)
    {
        var start = clock.GetUtcNow();
        var state = new DeliveryState(recipients) { KeepSession = (backlog && options.ConnectionCacheOnDemand) || CachedDestination(destination?.Host), Hop = destination };
        // A Unix-domain socket (port 0) has no policy-table key: the transport's level applies.
        state.Tls = new SmtpTlsPolicy(options.TlsLevel);
        if (destination is { Port: > 0 } d && !ApplyTlsPolicy(state, d)) return state.Finish(clock.GetUtcNow() - start, TimeSpan.Zero);
        await TryServersAsync(servers, message, state, new SessionCount(), ct).ConfigureAwait(false);
        var connected = state.ConnectedAt ?? clock.GetUtcNow();
        return state.Finish(connected - start, clock.GetUtcNow() - connected);
    }

    /// <summary>Postfix smtp_connection_cache_destinations: "permanently enable SMTP connection caching for the
    /// specified destinations" (a domain, a relay host without [] or port, a socket path without unix:).</summary>
    private bool CachedDestination(string? name)
    {
        if (_cache is null || name is null || options.ConnectionCacheDestination is not { } match) return false;
        try
        {
            return match(name);
        }
        catch (Posthorn.Config.Tables.LookupTableException e)
        {
            log.Warning(Program, $"smtp_connection_cache_destinations: {e.Message}");   // no caching, no harm
            return false;
        }
    }

    /// <summary>Sessions that got as far as a greeting in one delivery (smtp_mx_session_limit).</summary>
    private sealed class SessionCount
    {
        public int Value;
    }

    private async Task TryServersAsync(IReadOnlyList<SmtpServerAddress> servers, OutboundMessage message, DeliveryState state,
        SessionCount sessions, CancellationToken ct)
    {
        foreach (var server in servers)
        {
            if (state.PendingCount == 0 || sessions.Value >= options.MxSessionLimit) return;
            bool greeted = await TryServerAsync(server, message, state, tls: state.Tls.Level != SmtpTlsLevel.None, ct).ConfigureAwait(false);
            if (greeted) sessions.Value++;
        }
    }

    /// <returns>true when the server greeted (counts toward smtp_mx_session_limit).</returns>
    private async Task<bool> TryServerAsync(SmtpServerAddress server, OutboundMessage message, DeliveryState state, bool tls, CancellationToken ct)
    {
        if (_cache is not null && await TryCachedAsync(server, message, state, ct).ConfigureAwait(false)) return true;
        SmtpConnection conn;
        try
        {
            conn = await SmtpConnection.ConnectAsync(server, options, clock, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            string text = $"connect to {server}: {SocketErrorText(e)}";
            if (options.Lmtp) log.LmtpConnectFailed(message.Id, text);
            else log.SmtpConnectFailed(message.Id, text);
            state.SoftAll(ConnectFailed, text, "none", null, null);
            return false;
        }
        try
        {
            try
            {
                return await SessionAsync(conn, message, state, tls, ct).ConfigureAwait(false);
            }
            catch (SmtpSessionException e) when (e.Kind == SmtpSessionFailure.Tls && state.Tls.Level == SmtpTlsLevel.May)
            {
                log.SmtpTlsFallback(server.ToString(), e.Message);
            }
            catch (SmtpSessionException e) when (e.Kind == SmtpSessionFailure.Tls)
            {
                // Postfix smtp(8) with TLS required: "SSL_connect error to host[addr]:port: …" in the log, and the
                // recipients deferred with "dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)".
                log.Info(options.Lmtp ? "lmtp" : "smtp", $"SSL_connect error to {server}: {e.Message}");
                state.SoftAll(TlsFailed, "Cannot start TLS: handshake failure", server.ToString(), server.HostName, null);
                return true;
            }
            catch (SmtpSessionException e)
            {
                string text = e.Kind switch
                {
                    SmtpSessionFailure.Timeout => $"conversation with {server.HostAndAddress} timed out while {e.Message}",
                    SmtpSessionFailure.Malformed => $"host {server.HostAndAddress} sent a malformed reply while {e.Message}",
                    _ => $"lost connection with {server.HostAndAddress} while {e.Message}",
                };
                state.SoftAll(ConversationFailed, text, server.ToString(), server.HostName, null);
                return true;
            }
        }
        finally
        {
            if (!conn.Cached) await conn.DisposeAsync().ConfigureAwait(false);
        }
        // Postfix TLS_README: with opportunistic TLS a failed handshake is retried in plaintext.
        return await TryServerAsync(server, message, state, tls: false, ct).ConfigureAwait(false);
    }

    private static string SocketErrorText(Exception e) => e switch
    {
        TimeoutException => "Connection timed out",
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "Connection refused",
        SocketException { SocketErrorCode: SocketError.TimedOut } => "Connection timed out",
        SocketException { SocketErrorCode: SocketError.NetworkUnreachable } => "Network is unreachable",
        SocketException { SocketErrorCode: SocketError.HostUnreachable } => "No route to host",
        _ => e.Message,
    };
}
