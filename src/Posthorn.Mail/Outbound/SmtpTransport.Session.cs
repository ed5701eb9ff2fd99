using System.Buffers;
using System.Text;
using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Outbound;

public sealed partial class SmtpTransport
{
    /// <summary>One SMTP session on an open connection.</summary>
    /// <returns>true: the server greeted us (a session, for smtp_mx_session_limit).</returns>
    private async Task<bool> SessionAsync(SmtpConnection conn, OutboundMessage message, DeliveryState state, bool tls, CancellationToken ct)
    {
        var server = conn.Server;
        string relay = server.ToString();
        var greeting = await conn.ReadReplyAsync(options.HeloTimeout, "receiving the initial server greeting", ct).ConfigureAwait(false);
        if (!greeting.IsPositive)
        {
            // Postfix smtp_skip_5xx_greeting=yes: any non-2xx greeting moves on to the next server.
            state.SoftAll(Soften(greeting.Status), $"host {server.HostAndAddress} refused to talk to me: {greeting.Text}", relay, server.HostName, greeting.Text);
            await QuitAsync(conn, ct).ConfigureAwait(false);
            return true;
        }

        var ehlo = await HelloAsync(conn, state, ct).ConfigureAwait(false);
        if (ehlo is null) return true;
        if (tls && ehlo.ContainsKey("STARTTLS"))
        {
            conn.Write("STARTTLS");
            await conn.FlushAsync(options.HeloTimeout, "sending STARTTLS", ct).ConfigureAwait(false);
            var reply = await conn.ReadReplyAsync(options.HeloTimeout, "receiving the STARTTLS reply", ct).ConfigureAwait(false);
            if (reply.Code == 220)
            {
                await conn.StartTlsAsync(server.HostName, ct).ConfigureAwait(false);
                if (!AcceptServerCertificate(conn, state))
                {
                    await QuitAsync(conn, ct).ConfigureAwait(false);
                    return true;
                }
                // RFC 3207 §4.2: the client must discard what it knew and send EHLO again.
                ehlo = await HelloAsync(conn, state, ct).ConfigureAwait(false);
                if (ehlo is null) return true;
            }
            else if (TlsRequired(state))
            {
                state.SoftAll(new EnhancedStatus(4, 7, 5), $"TLS is required, but host {server.HostAndAddress} refused to start TLS: {reply.Text}", relay, server.HostName, reply.Text);
                await QuitAsync(conn, ct).ConfigureAwait(false);
                return true;
            }
        }
        else if (TlsRequired(state))
        {
            state.SoftAll(new EnhancedStatus(4, 7, 4), $"TLS is required, but was not offered by host {server.HostAndAddress}", relay, server.HostName, null);
            await QuitAsync(conn, ct).ConfigureAwait(false);
            return true;
        }
        if (!await AuthenticateAsync(conn, ehlo, state, ct).ConfigureAwait(false)) return true;
        state.ConnectedAt ??= clock.GetUtcNow();

        // RFC 6531 §3.4, Postfix smtp(8): mail whose sender asked for SMTPUTF8 and that needs it (a UTF-8 envelope
        // address or header) cannot go to a server without SMTPUTF8; it bounces rather than being downgraded.
        if (message.SmtpUtf8Requested && !ehlo.ContainsKey("SMTPUTF8")
            && (!Ascii.IsValid(message.Sender.ToString()) || state.Pending().Any(i => !Ascii.IsValid(state[i].Address))
                || await HasEightBitHeaderAsync(message, ct).ConfigureAwait(false)))
        {
            state.FailAll(DeliveryOutcome.Bounced, new EnhancedStatus(5, 6, 7),
                $"SMTPUTF8 is required, but was not offered by host {server.HostAndAddress}", relay, server.HostName, null);
            await QuitAsync(conn, ct).ConfigureAwait(false);
            return true;
        }

        // RFC 1870 §6: the server's SIZE is a fixed limit; Postfix does not send what would exceed it.
        if (ehlo.TryGetValue("SIZE", out var sizeText) && long.TryParse(sizeText, out long sizeLimit) && sizeLimit > 0 && message.Size > sizeLimit)
        {
            state.FailAll(DeliveryOutcome.Bounced, new EnhancedStatus(5, 3, 4),
                $"message size {message.Size} exceeds size limit {sizeLimit} of server {server.HostAndAddress}", relay, server.HostName, null);
            await QuitAsync(conn, ct).ConfigureAwait(false);
            return true;
        }
        await TransactionAsync(conn, message, state, ehlo, ct).ConfigureAwait(false);
        await QuitOrKeepAsync(conn, ehlo, state, ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>EHLO, and HELO when EHLO is refused (RFC 5321 §3.2). null when the session is over.</summary>
    private async Task<Dictionary<string, string>?> HelloAsync(SmtpConnection conn, DeliveryState state, CancellationToken ct)
    {
        var server = conn.Server;
        // RFC 2033 §4.1: LMTP greets with LHLO, with EHLO's syntax and reply; there is no HELO fallback.
        string command = options.Lmtp ? "LHLO" : "EHLO";
        string stage = $"performing the {command} handshake";
        conn.Write($"{command} {options.HeloName}");
        await conn.FlushAsync(options.HeloTimeout, stage, ct).ConfigureAwait(false);
        var reply = await conn.ReadReplyAsync(options.HeloTimeout, stage, ct).ConfigureAwait(false);
        if (reply.IsPositive) return reply.EhloKeywords();
        if (reply.IsPermanent && !options.Lmtp)
        {
            conn.Write($"HELO {options.HeloName}");
            await conn.FlushAsync(options.HeloTimeout, "performing the HELO handshake", ct).ConfigureAwait(false);
            reply = await conn.ReadReplyAsync(options.HeloTimeout, "performing the HELO handshake", ct).ConfigureAwait(false);
            if (reply.IsPositive) return [];
            command = "HELO";
        }
        Reject(state, state.Pending(), reply, server, command);
        await QuitAsync(conn, ct).ConfigureAwait(false);
        return null;
    }

    private async Task TransactionAsync(SmtpConnection conn, OutboundMessage message, DeliveryState state,
        Dictionary<string, string> ehlo, CancellationToken ct)
    {
        var server = conn.Server;
        bool pipelining = ehlo.ContainsKey("PIPELINING");
        bool bdat = options.UseBdat && ehlo.ContainsKey("CHUNKING");
        var pending = state.Pending();

        // RFC 6152 §3: BODY=8BITMIME announces 8-bit content. DEVIATION: without 8BITMIME at the
        // server Postfix converts to quoted-printable; Posthorn sends the content unchanged.
        string mailFrom = $"MAIL FROM:<{message.Sender}>";
        if (ehlo.ContainsKey("SIZE")) mailFrom += $" SIZE={message.Size}";
        if (ehlo.ContainsKey("8BITMIME") && await HasEightBitAsync(message, ct).ConfigureAwait(false)) mailFrom += " BODY=8BITMIME";
        // RFC 6531 §3.4: SMTPUTF8 on MAIL FROM when the sender asked for it and the server offers it.
        if (message.SmtpUtf8Requested && ehlo.ContainsKey("SMTPUTF8")) mailFrom += " SMTPUTF8";

        // RFC 2920 §3.1: MAIL, RCPT and DATA may go in one batch; the replies come back in order.
        conn.Write(mailFrom);
        if (!pipelining) await conn.FlushAsync(options.MailTimeout, "sending MAIL FROM", ct).ConfigureAwait(false);
        ServerReply? mail = pipelining ? null : await conn.ReadReplyAsync(options.MailTimeout, "sending MAIL FROM", ct).ConfigureAwait(false);
        if (mail is { IsPositive: false })
        {
            Reject(state, pending, mail, server, "MAIL FROM");
            return;
        }

        var accepted = new List<int>();
        if (pipelining)
        {
            foreach (int i in pending) conn.Write($"RCPT TO:<{state[i].Address}>");
            if (!bdat) conn.Write("DATA");
            await conn.FlushAsync(options.MailTimeout, "sending MAIL FROM", ct).ConfigureAwait(false);
            mail = await conn.ReadReplyAsync(options.MailTimeout, "sending MAIL FROM", ct).ConfigureAwait(false);
        }
        foreach (int i in pending)
        {
            if (!pipelining)
            {
                conn.Write($"RCPT TO:<{state[i].Address}>");
                await conn.FlushAsync(options.RcptTimeout, "sending RCPT TO", ct).ConfigureAwait(false);
            }
            var rcpt = await conn.ReadReplyAsync(options.RcptTimeout, "sending RCPT TO", ct).ConfigureAwait(false);
            if (!mail!.IsPositive) continue;   // pipelined RCPT replies after a failed MAIL say nothing new
            if (rcpt.IsPositive) accepted.Add(i);
            else Reject(state, [i], rcpt, server, "RCPT TO");
        }
        if (!mail!.IsPositive)
        {
            Reject(state, pending, mail, server, "MAIL FROM");
            if (pipelining && !bdat) await conn.ReadReplyAsync(options.DataInitTimeout, "sending DATA command", ct).ConfigureAwait(false);
            return;
        }
        if (accepted.Count == 0)
        {
            // RFC 2920 §3.1: the server refuses the pipelined DATA when no RCPT succeeded.
            if (pipelining && !bdat)
            {
                var data = await conn.ReadReplyAsync(options.DataInitTimeout, "sending DATA command", ct).ConfigureAwait(false);
                if (data.Code == 354)
                {
                    conn.Write(".");
                    await conn.FlushAsync(options.DataDoneTimeout, "sending end of data", ct).ConfigureAwait(false);
                    await conn.ReadReplyAsync(options.DataDoneTimeout, "sending end of data", ct).ConfigureAwait(false);
                }
            }
            return;
        }
        if (bdat)
        {
            if (!await SendBdatAsync(conn, message, accepted, state, ct).ConfigureAwait(false)) return;
        }
        else if (!await SendDataAsync(conn, message, accepted, state, pipelining, ct).ConfigureAwait(false))
        {
            return;
        }
        // RFC 2033 §4.2: after the final dot an LMTP server sends one reply per accepted RCPT, in RCPT order.
        foreach (var group in options.Lmtp ? accepted.Select(i => new[] { i }) : [accepted.ToArray()])
        {
            var done = await conn.ReadReplyAsync(options.DataDoneTimeout, "sending end of data -- message may be sent more than once", ct).ConfigureAwait(false);
            if (!done.IsPositive)
            {
                Reject(state, group, done, server, bdat ? "BDAT" : "end of DATA");
                continue;
            }
            foreach (int i in group)
                state.Final(i, DeliveryOutcome.Sent, done.Status, done.Text, server.ToString(), server.HostName, done.Text);
        }
    }

    /// <summary>DATA (unless pipelined already), its 354, and the dot-stuffed content.</summary>
    /// <returns>false when DATA was refused (the accepted recipients got that reply).</returns>
    private async Task<bool> SendDataAsync(SmtpConnection conn, OutboundMessage message, List<int> accepted, DeliveryState state,
        bool pipelining, CancellationToken ct)
    {
        var server = conn.Server;
        if (!pipelining)
        {
            conn.Write("DATA");
            await conn.FlushAsync(options.DataInitTimeout, "sending DATA command", ct).ConfigureAwait(false);
        }
        var dataReply = await conn.ReadReplyAsync(options.DataInitTimeout, "sending DATA command", ct).ConfigureAwait(false);
        if (dataReply.Code != 354)
        {
            Reject(state, accepted, dataReply, server, "DATA");
            return false;
        }

        await SendContentAsync(conn, message, ct).ConfigureAwait(false);
        return true;
    }

    private async Task SendContentAsync(SmtpConnection conn, OutboundMessage message, CancellationToken ct)
    {
        var encoder = new SmtpDataEncoder();
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            await using var content = message.OpenContent();
            int n;
            while ((n = await content.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            {
                encoder.Encode(buffer.AsSpan(0, n), conn.Writer);
                await conn.FlushAsync(options.DataXferTimeout, "sending message body", ct).ConfigureAwait(false);
            }
            encoder.Finish(conn.Writer);
            await conn.FlushAsync(options.DataXferTimeout, "sending message body", ct).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>True when the message header (up to the first empty line) has a byte with the high bit set.</summary>
    private static async Task<bool> HasEightBitHeaderAsync(OutboundMessage message, CancellationToken ct)
    {
        await using var content = message.OpenContent();
        using var reader = new StreamReader(content, System.Text.Encoding.Latin1);
        for (string? line; (line = await reader.ReadLineAsync(ct).ConfigureAwait(false)) is { Length: > 0 };)
            if (!Ascii.IsValid(line)) return true;
        return false;
    }

    private static async Task<bool> HasEightBitAsync(OutboundMessage message, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            await using var content = message.OpenContent();
            int n;
            while ((n = await content.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                if (buffer.AsSpan(0, n).IndexOfAnyInRange((byte)0x80, (byte)0xFF) >= 0) return true;
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A refusal: 5xx is final (bounce), 4xx waits for the next server or the next queue run.
    /// Text as Postfix: <c>host x[a] said: 550 5.1.1 … (in reply to RCPT TO command)</c>.</summary>
    private static void Reject(DeliveryState state, IEnumerable<int> which, ServerReply reply, SmtpServerAddress server, string command)
    {
        string text = $"host {server.HostAndAddress} said: {reply.Text} (in reply to {command} command)";
        foreach (int i in which)
        {
            if (reply.IsPermanent)
                state.Final(i, DeliveryOutcome.Bounced, reply.Status, text, server.ToString(), server.HostName, reply.Text);
            else
                state.Soft(i, reply.Status, text, server.ToString(), server.HostName, reply.Text);
        }
    }

    /// <summary>A refused greeting only defers: the class of its status becomes 4.</summary>
    private static EnhancedStatus Soften(EnhancedStatus s) => s with { Class = 4 };

    /// <summary>RFC 5321 §4.1.1.10: QUIT, best effort; the outcome is settled already.</summary>
    private async Task QuitAsync(SmtpConnection conn, CancellationToken ct)
    {
        try
        {
            conn.Write("QUIT");
            await conn.FlushAsync(options.QuitTimeout, "sending QUIT", ct).ConfigureAwait(false);
            await conn.ReadReplyAsync(options.QuitTimeout, "sending QUIT", ct).ConfigureAwait(false);
        }
        catch (SmtpSessionException)
        {
            // The server hung up first: nothing was lost.
        }
    }

    /// <summary>The key length from the suite's name (AES_128, AES_256, CHACHA20 = 256).</summary>
    private static int CipherBits(string suite) => suite.Contains("_128_", StringComparison.Ordinal) ? 128 : 256;

    private static string ProtocolName(System.Security.Authentication.SslProtocols p) => p switch
    {
        System.Security.Authentication.SslProtocols.Tls13 => "TLSv1.3",
        System.Security.Authentication.SslProtocols.Tls12 => "TLSv1.2",
        _ => p.ToString(),
    };
}
