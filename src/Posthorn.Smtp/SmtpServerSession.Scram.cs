using System.Security.Cryptography;
using System.Text;
using Posthorn.Sasl;

namespace Posthorn.Smtp;

/// <summary>AUTH SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677) carried by SMTP AUTH (RFC 4954).</summary>
/// <remarks>The exchange: client-first (often as the initial response), server-first as a 334 challenge,
/// client-final, then the server's signature as a last 334 challenge that the client answers with an empty
/// line (RFC 4954 §4: additional data with a success is sent as a challenge), then 235.
/// Offered when the authenticator has SCRAM credentials (<see cref="ISmtpScramAuthenticator"/>). It sends no
/// password, so noplaintext leaves it on. An unknown user runs the exchange to its end with mock credentials
/// and fails there, like a wrong password.</remarks>
public sealed partial class SmtpServerSession
{
    private bool ScramAvailable(ScramHash hash) => _options.Authenticator is ISmtpScramAuthenticator scram && scram.OffersScram(hash);

    private async ValueTask<bool> ScramAsync(ScramHash hash, byte[]? initial)
    {
        string method = ScramCredentials.MechanismName(hash);
        var (first, failure) = await ResponseAsync(method, initial, "");
        if (first is null) return await FailedExchangeAsync(failure);
        var exchange = new ScramServerExchange(hash);
        if (!exchange.TryReadClientFirst(first)) return await FinishSaslAsync(method, null, SmtpAuthResult.Failure);
        string user = exchange.User!;
        var (result, credentials) = await ((ISmtpScramAuthenticator)_options.Authenticator!).GetScramCredentialsAsync(user, hash, _ct);
        if (result == SmtpAuthResult.TemporaryFailure) return await FinishSaslAsync(method, user, result);
        bool known = result == SmtpAuthResult.Success && credentials is not null;
        string serverFirst = exchange.ServerFirst(known ? credentials! : ScramCredentials.Unusable(hash));
        var (final, failure2) = await ResponseAsync(method, null, Convert.ToBase64String(Encoding.UTF8.GetBytes(serverFirst)));
        if (final is null) return await FailedExchangeAsync(failure2);
        if (!exchange.TryVerifyClientFinal(final, out string serverFinal) || !known)
            return await FinishSaslAsync(method, user, SmtpAuthResult.Failure);
        var (done, failure3) = await ResponseAsync(method, null, Convert.ToBase64String(Encoding.UTF8.GetBytes(serverFinal)));
        if (done is null) return await FailedExchangeAsync(failure3);
        bool empty = done.Length == 0;
        CryptographicOperations.ZeroMemory(done);
        return await FinishSaslAsync(method, user, empty ? SmtpAuthResult.Success : SmtpAuthResult.Failure);
    }
}
