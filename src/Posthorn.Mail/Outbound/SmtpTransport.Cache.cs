namespace Posthorn.Mail.Outbound;

/// <summary>SMTP connection reuse (Postfix smtp(8) CONNECTION CACHING).</summary>
public sealed partial class SmtpTransport
{
    /// <summary>Delivers over an idle cached session to <paramref name="server"/>, if one answers RSET.</summary>
    /// <returns>true when a cached session carried the transaction; false when there was none usable
    /// (a stale one is closed and the caller connects afresh).</returns>
    /// <remarks>Postfix smtp(8): a cached session is checked with RSET (smtp_rset_timeout) before its
    /// next MAIL FROM; it already passed EHLO (and STARTTLS), so those are not repeated.</remarks>
    private async Task<bool> TryCachedAsync(SmtpServerAddress server, OutboundMessage message, DeliveryState state, CancellationToken ct)
    {
        while (_cache!.TryTake(server, out var conn, out var ehlo))
        {
            try
            {
                conn.Write("RSET");
                await conn.FlushAsync(options.RsetTimeout, "sending RSET", ct).ConfigureAwait(false);
                var reply = await conn.ReadReplyAsync(options.RsetTimeout, "sending RSET", ct).ConfigureAwait(false);
                if (!reply.IsPositive)
                {
                    await conn.DisposeAsync().ConfigureAwait(false);
                    continue;
                }
            }
            catch (SmtpSessionException)
            {
                // The server closed the idle session meanwhile: nothing was sent for this message.
                await conn.DisposeAsync().ConfigureAwait(false);
                continue;
            }
            conn.Cached = false;
            try
            {
                state.ConnectedAt ??= clock.GetUtcNow();
                await TransactionAsync(conn, message, state, ehlo, ct).ConfigureAwait(false);
                await QuitOrKeepAsync(conn, ehlo, state, ct).ConfigureAwait(false);
            }
            catch (SmtpSessionException e)
            {
                state.SoftAll(ConversationFailed, $"lost connection with {server.HostAndAddress} while {e.Message}", server.ToString(), server.HostName, null);
            }
            finally
            {
                if (!conn.Cached) await conn.DisposeAsync().ConfigureAwait(false);
            }
            return true;
        }
        return false;
    }

    /// <summary>After a transaction: keep the session for the next message when caching is on and the
    /// destination has a backlog (Postfix smtp_connection_cache_on_demand), else QUIT.</summary>
    private async Task QuitOrKeepAsync(SmtpConnection conn, Dictionary<string, string> ehlo, DeliveryState state, CancellationToken ct)
    {
        if (_cache is not null && state.KeepSession)
        {
            conn.Cached = true;
            _cache.Put(conn, ehlo);
            return;
        }
        await QuitAsync(conn, ct).ConfigureAwait(false);
    }
}
