using System.Text;
using Posthorn.Config.Tables;
using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Outbound;

/// <summary>smtp(8) SMTP AUTH (RFC 4954) to servers that have an entry in smtp_sasl_password_maps.</summary>
/// <remarks>Parameters: smtp_sasl_auth_enable, smtp_sasl_password_maps, smtp_sasl_security_options,
/// smtp_sasl_tls_security_options, smtp_sasl_mechanism_filter, smtp_sasl_auth_soft_bounce.
/// Security: the password goes only to the server it was looked up for, and is never logged.</remarks>
public sealed partial class SmtpTransport
{
    private static readonly EnhancedStatus LookupFailed = new(4, 3, 0);
    private static readonly EnhancedStatus NoMechanism = new(4, 7, 0);

    /// <summary>AUTH after the (post-STARTTLS) EHLO, before MAIL FROM.</summary>
    /// <returns>false when the session is over: the recipients are deferred (or bounced) and QUIT was sent.</returns>
    /// <remarks>Postfix smtp(8): without smtp_sasl_auth_enable, without AUTH in the EHLO reply, or without a
    /// password-map entry for the server, mail goes out unauthenticated.</remarks>
    private async Task<bool> AuthenticateAsync(SmtpConnection conn, Dictionary<string, string> ehlo, DeliveryState state, CancellationToken ct)
    {
        if (!options.SaslAuthEnable || options.SaslPasswordLookup is not { } lookup || OfferedMechanisms(ehlo) is not { } offered) return true;
        var server = conn.Server;
        string relay = server.ToString();
        string user, password;
        try
        {
            if (!SmtpSaslPasswords.TryFind(lookup, server.HostName, state.Hop, out user, out password)) return true;
        }
        catch (LookupTableException e)
        {
            // Postfix smtp_sasl_glue.c: a table that cannot answer defers with "Temporary lookup failure".
            log.Warning(Program, $"{relay}: smtp_sasl_password_maps lookup error: {e.Message}");
            state.SoftAll(LookupFailed, "Temporary lookup failure", relay, server.HostName, null);
            await QuitAsync(conn, ct).ConfigureAwait(false);
            return false;
        }

        // Postfix: smtp_sasl_tls_security_options apply on a TLS session, smtp_sasl_security_options otherwise.
        var required = conn.Tls is null ? options.SaslSecurityOptions : options.SaslTlsSecurityOptions;
        var mechanism = SaslClientMechanism.Choose(offered, options.SaslMechanismFilter, required, user, password);
        if (mechanism is null)
        {
            log.Warning(Program, $"{relay}: SASL authentication failure: No worthy mechs found");
            state.SoftAll(NoMechanism, $"SASL authentication failed; cannot authenticate to server {server.HostAndAddress}: no mechanism available",
                relay, server.HostName, null);
            await QuitAsync(conn, ct).ConfigureAwait(false);
            return false;
        }

        const string stage = "performing the SASL authentication";
        // RFC 4954 §4: an empty initial response is sent as "=".
        conn.Write(mechanism.InitialResponse is { } initial
            ? $"AUTH {mechanism.Name} {(initial.Length == 0 ? "=" : Convert.ToBase64String(initial))}"
            : $"AUTH {mechanism.Name}");
        await conn.FlushAsync(options.HeloTimeout, stage, ct).ConfigureAwait(false);
        var reply = await conn.ReadReplyAsync(options.HeloTimeout, stage, ct).ConfigureAwait(false);
        bool cancelled = false;
        while (reply.Code == 334 && !cancelled)
        {
            byte[]? response = TryDecodeChallenge(reply, out var challenge) ? mechanism.Respond(challenge) : null;
            // RFC 4954 §4: "*" cancels the exchange; the server answers 501.
            cancelled = response is null;
            conn.Write(response is null ? "*" : Convert.ToBase64String(response));
            await conn.FlushAsync(options.HeloTimeout, stage, ct).ConfigureAwait(false);
            reply = await conn.ReadReplyAsync(options.HeloTimeout, stage, ct).ConfigureAwait(false);
        }
        if (reply.IsPositive && mechanism.CanComplete && !cancelled) return true;

        string text = reply.IsPositive || cancelled
            ? $"SASL authentication failed; cannot authenticate to server {server.HostAndAddress}: the server's {mechanism.Name} exchange could not be completed"
            : $"SASL authentication failed; server {server.HostAndAddress} said: {reply.Text}";
        // Postfix smtp_sasl_auth_soft_bounce (default yes): a 535 defers rather than bounces.
        if (reply.IsPermanent && !cancelled && !options.SaslAuthSoftBounce)
            state.FailAll(DeliveryOutcome.Bounced, reply.Status, text, relay, server.HostName, reply.Text);
        else
            state.SoftAll(reply.IsPositive || cancelled ? NoMechanism : Soften(reply.Status), text, relay, server.HostName, reply.IsPositive ? null : reply.Text);
        await QuitAsync(conn, ct).ConfigureAwait(false);
        return false;
    }

    /// <summary>The mechanisms of the EHLO AUTH keyword; also the pre-RFC "AUTH=" form that old servers send.</summary>
    private static string[]? OfferedMechanisms(Dictionary<string, string> ehlo)
    {
        if (ehlo.TryGetValue("AUTH", out var list)) return list.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (var (key, value) in ehlo)
            if (key.StartsWith("AUTH=", StringComparison.OrdinalIgnoreCase))
                return $"{key[5..]} {value}".Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return null;
    }

    /// <summary>RFC 4954 §4: the 334 text is the base64 challenge.</summary>
    private static bool TryDecodeChallenge(ServerReply reply, out byte[] challenge)
    {
        string line = reply.Lines[0];
        string b64 = line.Length > 4 ? line[4..].Trim() : "";
        challenge = new byte[b64.Length];
        if (Convert.TryFromBase64String(b64, challenge, out int n))
        {
            challenge = challenge[..n];
            return true;
        }
        challenge = Encoding.ASCII.GetBytes(b64);
        return false;
    }
}
