using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>AUTH CRAM-MD5 (RFC 2195): a challenge, and the client's user name with HMAC-MD5(secret, challenge).</summary>
/// <remarks>Security: the password never crosses the wire, but the server must know it in plaintext, so the
/// mechanism is offered only when the authenticator says it can (<see cref="ISmtpSecretAuthenticator"/>). It
/// is not a plaintext mechanism: noplaintext leaves it on. The digest is compared in constant time.</remarks>
public sealed partial class SmtpServerSession
{
    private bool CramMd5Available => _options.Authenticator is ISmtpSecretAuthenticator { HasPlaintextSecrets: true };

    private async ValueTask<bool> CramMd5Async(byte[]? initial)
    {
        // RFC 2195 §2: the server speaks first; an initial response has nothing to answer and fails.
        if (initial is not null) return await FinishSaslAsync("CRAM-MD5", null, SmtpAuthResult.Failure);
        // RFC 2195 §2: challenge = "<" random "." timestamp "@" hostname ">" (msg-id form), sent base64-encoded.
        string challenge = string.Create(CultureInfo.InvariantCulture,
            $"<{RandomNumberGenerator.GetInt32(int.MaxValue)}.{_clock.GetUtcNow().ToUnixTimeSeconds()}@{_options.Hostname}>");
        var (response, failure) = await ResponseAsync("CRAM-MD5", null, Convert.ToBase64String(Encoding.ASCII.GetBytes(challenge)));
        if (response is null) return await FailedExchangeAsync(failure);
        try
        {
            // response = user SP 32 lower-case hex digits.
            int space = Array.LastIndexOf(response, (byte)' ');
            if (space <= 0 || response.Length - space - 1 != 32) return await FinishSaslAsync("CRAM-MD5", null, SmtpAuthResult.Failure);
            string user = Encoding.UTF8.GetString(response, 0, space);
            var (result, secret) = await ((ISmtpSecretAuthenticator)_options.Authenticator!).GetSecretAsync(user, _ct);
            if (result != SmtpAuthResult.Success || secret is null) return await FinishSaslAsync("CRAM-MD5", user, result == SmtpAuthResult.Success ? SmtpAuthResult.Failure : result);
            byte[] expected = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(
                HMACMD5.HashData(Encoding.UTF8.GetBytes(secret), Encoding.ASCII.GetBytes(challenge))));
            bool ok = CryptographicOperations.FixedTimeEquals(expected, response.AsSpan(space + 1));
            return await FinishSaslAsync("CRAM-MD5", user, ok ? SmtpAuthResult.Success : SmtpAuthResult.Failure);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(response);
        }
    }
}
