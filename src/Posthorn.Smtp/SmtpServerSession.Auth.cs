using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms (and CRAM-MD5 and SCRAM, in their own files), the way Postfix's
/// smtpd_sasl_glue.c runs the exchange.</summary>
/// <remarks>Security: credentials never reach the log, not even in part; the decoded bytes are wiped
/// after use. A failure is logged in the one form fail2ban's postfix-sasl filter matches.</remarks>
public sealed partial class SmtpServerSession
{
    private static readonly string[] PlaintextMechanisms = ["PLAIN", "LOGIN"];

    /// <summary>The mechanisms offered now, or none: smtpd_sasl_auth_enable, smtpd_tls_auth_only (implied by
    /// smtpd_tls_security_level = encrypt until TLS is on), and noplaintext in smtpd_sasl_security_options
    /// (or smtpd_sasl_tls_security_options over TLS). Both mechanisms are plaintext ones.</summary>
    private IReadOnlyList<string> SaslMechanisms()
    {
        if (!_options.SaslAuthEnable || _options.Authenticator is null || _options.DiscardEhloKeywords.Contains("auth")) return [];
        bool tlsOnly = _options.TlsAuthOnly || _options.TlsSecurityLevel == SmtpTlsSecurityLevel.Encrypt;
        if (tlsOnly && !_info.IsTls) return [];
        bool noPlaintext = _info.IsTls ? _options.SaslTlsNoPlaintext : _options.SaslNoPlaintext;
        IReadOnlyList<string> plain = noPlaintext ? [] : PlaintextMechanisms;
        // RFC 2195 CRAM-MD5 and RFC 5802 SCRAM send no password, so noplaintext keeps them.
        var offered = new List<string>(plain);
        if (CramMd5Available) offered.Add("CRAM-MD5");
        if (ScramAvailable(Posthorn.Sasl.ScramHash.Sha1)) offered.Add("SCRAM-SHA-1");
        if (ScramAvailable(Posthorn.Sasl.ScramHash.Sha256)) offered.Add("SCRAM-SHA-256");
        return offered;
    }

    /// <summary>AUTH is available in this session (Postfix smtpd_sasl_is_active and not tls_auth_only before TLS).</summary>
    private bool SaslActive => SaslMechanisms().Count > 0;

    private async ValueTask<bool> AuthAsync(ReadOnlyMemory<byte> args)
    {
        // Postfix smtpd_sasl_auth_cmd, in its order of checks.
        if (_info.HeloName is null)
        {
            await ReplyAsync(SmtpReplies.SendHeloFirst);
            return false;
        }
        var mechanisms = SaslMechanisms();
        if (mechanisms.Count == 0)
        {
            await ReplyAsync(SmtpReplies.AuthNotEnabled);
            return false;
        }
        if (_tx is not null)
        {
            await ReplyAsync(SmtpReplies.MailTransactionInProgress);
            return false;
        }
        // Postfix smtpd(8) smtpd_client_auth_rate_limit: anvil counts AUTH commands per client; over the limit
        // the command is refused and counts as an error.
        if (_options.Authenticator is ISmtpAuthRateLimiter limiter && limiter.CheckAuthRate(_info) is { } tooMany)
        {
            _errorCount++;
            await ReplyAsync(tooMany);
            return false;
        }
        if (_info.IsSaslAuthenticated)
        {
            await ReplyAsync(SmtpReplies.AlreadyAuthenticated);
            return false;
        }
        // RFC 4954 §4: AUTH mechanism [initial-response]
        var span = args.Span;
        int space = span.IndexOf((byte)' ');
        var mechanism = space < 0 ? span : span[..space];
        var initial = space < 0 ? ReadOnlySpan<byte>.Empty : span[(space + 1)..].TrimStart((byte)' ');
        if (mechanism.IsEmpty || initial.IndexOf((byte)' ') >= 0)
        {
            await ReplyAsync(SmtpReplies.AuthSyntax);
            return false;
        }
        string? method = null;
        foreach (var m in mechanisms)
            if (Ascii.EqualsIgnoreCase(mechanism, m)) method = m;
        if (method is null)
        {
            await ReplyAsync(SmtpReplies.UnsupportedMechanism);
            return false;
        }
        // RFC 4954 §4: "=" is an initial response of zero length; no argument means none was given.
        byte[]? first = space < 0 || initial.IsEmpty ? null : initial.SequenceEqual("="u8) ? [] : initial.ToArray();
        return method switch
        {
            "PLAIN" => await PlainAsync(first),
            "LOGIN" => await LoginAsync(first),
            "SCRAM-SHA-1" => await ScramAsync(Posthorn.Sasl.ScramHash.Sha1, first),
            "SCRAM-SHA-256" => await ScramAsync(Posthorn.Sasl.ScramHash.Sha256, first),
            _ => await CramMd5Async(first),
        };
    }

    /// <summary>RFC 4616: message = [authzid] NUL authcid NUL passwd. An empty challenge asks for it.</summary>
    private async ValueTask<bool> PlainAsync(byte[]? initial)
    {
        var (message, failure) = await ResponseAsync("PLAIN", initial, "");
        if (message is null) return await FailedExchangeAsync(failure);
        try
        {
            int first = Array.IndexOf(message, (byte)0);
            int second = first < 0 ? -1 : Array.IndexOf(message, (byte)0, first + 1);
            if (second < 0 || Array.IndexOf(message, (byte)0, second + 1) >= 0)
                return await VerifyAsync("PLAIN", null, null);
            string authzid = Encoding.UTF8.GetString(message, 0, first);
            string user = Encoding.UTF8.GetString(message, first + 1, second - first - 1);
            string password = Encoding.UTF8.GetString(message, second + 1, message.Length - second - 1);
            // DEVIATION: no proxy authorization; an authzid other than the user itself fails.
            if (authzid.Length > 0 && authzid != user) return await VerifyAsync("PLAIN", null, null);
            return await VerifyAsync("PLAIN", user, password);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(message);
        }
    }

    /// <summary>LOGIN (draft-murchison-sasl-login): "Username:" and "Password:" challenges, base64 each.</summary>
    private async ValueTask<bool> LoginAsync(byte[]? initial)
    {
        var (name, failure) = await ResponseAsync("LOGIN", initial, "VXNlcm5hbWU6");
        if (name is null) return await FailedExchangeAsync(failure);
        var (secret, failure2) = await ResponseAsync("LOGIN", null, "UGFzc3dvcmQ6");
        if (secret is null) return await FailedExchangeAsync(failure2);
        try
        {
            return await VerifyAsync("LOGIN", Encoding.UTF8.GetString(name), Encoding.UTF8.GetString(secret));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(name);
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>The decoded initial response, or a 334 challenge and the client's decoded answer.
    /// Null with the reply to give (null too when the client went away).</summary>
    private async ValueTask<(byte[]? Data, SmtpReply? Failure)> ResponseAsync(string method, byte[]? initial, string challenge)
    {
        ReadOnlyMemory<byte> text;
        if (initial is not null)
        {
            text = initial;
        }
        else
        {
            await ReplyAsync(SmtpReplies.AuthChallenge(challenge));
            var line = await ReadCommandLineAsync(sensitive: true);
            if (line.Status == LineStatus.EndOfInput)
            {
                _reason = "lost connection";
                _hangup = true;
                return (null, null);
            }
            if (line.Status == LineStatus.BareLf)
            {
                await BareLfAsync();
                return (null, null);
            }
            if (line.Status == LineStatus.TooLong) return (null, SmtpReplies.AuthLineTooLong);
            text = line.Text;
            // RFC 4954 §4: "*" cancels the exchange.
            if (text.Span.SequenceEqual("*"u8))
            {
                _log.SmtpdSaslAborted(Client, method);
                return (null, SmtpReplies.AuthAborted);
            }
        }
        var decoded = new byte[Base64.GetMaxDecodedFromUtf8Length(text.Length)];
        var status = Base64.DecodeFromUtf8(text.Span, decoded, out int consumed, out int written);
        if (status != OperationStatus.Done || consumed != text.Length)
        {
            CryptographicOperations.ZeroMemory(decoded);
            return (null, SmtpReplies.AuthCannotDecode);
        }
        var data = decoded.AsSpan(0, written).ToArray();
        CryptographicOperations.ZeroMemory(decoded);
        return (data, null);
    }

    private async ValueTask<bool> FailedExchangeAsync(SmtpReply? reply)
    {
        if (reply is { } r) await ReplyAsync(r);
        return false;
    }

    /// <summary>Ends any AUTH exchange with Postfix's reply and log line: on failure "warning: host[addr]: SASL
    /// METHOD authentication failed: REASON" and 535 5.7.8 (or 454 4.7.0 for a temporary failure).</summary>
    private async ValueTask<bool> FinishSaslAsync(string method, string? user, SmtpAuthResult result)
    {
        switch (result)
        {
            case SmtpAuthResult.Success:
                _info.SaslMethod = method;
                _info.SaslUsername = user;
                await ReplyAsync(SmtpReplies.AuthSuccessful);
                return true;
            case SmtpAuthResult.TemporaryFailure:
                _log.SmtpdSaslFailed(Client, method, "temporary failure");
                await ReplyAsync(SmtpReplies.AuthTemporaryFailure);
                return false;
            default:
                _log.SmtpdSaslFailed(Client, method, "authentication failure");
                await ReplyAsync(SmtpReplies.AuthFailed);
                return false;
        }
    }

    /// <summary>Asks the authenticator; a null user is a malformed message, which fails like a wrong password.</summary>
    private async ValueTask<bool> VerifyAsync(string method, string? user, string? password)
    {
        var result = user is null || password is null || user.Length == 0
            ? SmtpAuthResult.Failure
            : await _options.Authenticator!.AuthenticateAsync(user, password, _ct);
        return await FinishSaslAsync(method, user, result);
    }

    /// <summary>RFC 4954 §5: MAIL FROM's AUTH=xtext, "&lt;&gt;" or an address. RFC 3461 §4: xtext is
    /// printable ASCII but "+" and "=", with "+XX" (upper-case hex) for any other byte.</summary>
    private static bool IsXtext(string value)
    {
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '+')
            {
                if (i + 2 >= value.Length || !char.IsAsciiHexDigitUpper(value[i + 1]) || !char.IsAsciiHexDigitUpper(value[i + 2])) return false;
                i += 2;
            }
            else if (c is < '!' or > '~' or '=') return false;
        }
        return value.Length > 0;
    }
}
