using System.Security.Cryptography;
using System.Text;
using Posthorn.Imap.Auth;
using Posthorn.Sasl;

namespace Posthorn.Imap;

/// <summary>AUTHENTICATE SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677) over IMAP (RFC 9051 §6.2.2).</summary>
/// <remarks>client-first (as the SASL-IR initial response or after an empty "+"), server-first as a "+"
/// challenge, client-final, then the server signature as a last "+" challenge that the client answers with an
/// empty line (RFC 9051 §6.2.2 lets success data come as a challenge; IMAP4rev1 clients need it so), then OK.
/// Offered when the user database has SCRAM credentials (<see cref="IImapScramUserResolver.OffersScram"/>);
/// no password crosses the wire, so it is offered without TLS too. An unknown user runs the exchange to its
/// end with unusable credentials and fails there, as a wrong password does (RFC 5802 §5.1).</remarks>
public sealed partial class ImapServerSession
{
    private IEnumerable<string> ScramCapabilities()
    {
        if (_users is not IImapScramUserResolver scram) yield break;
        if (scram.OffersScram(ScramHash.Sha256)) yield return "AUTH=SCRAM-SHA-256";
        if (scram.OffersScram(ScramHash.Sha1)) yield return "AUTH=SCRAM-SHA-1";
    }

    private static ScramHash? ScramMechanism(ImapToken t) =>
        t.IsAtom("SCRAM-SHA-256") ? ScramHash.Sha256 : t.IsAtom("SCRAM-SHA-1") ? ScramHash.Sha1 : null;

    private async ValueTask<Result> ScramAsync(ScramHash hash, ImapToken? initial)
    {
        if (_users is not IImapScramUserResolver resolver || !resolver.OffersScram(hash))
            return Result.No("Unsupported authentication mechanism.");
        string method = ScramCredentials.MechanismName(hash);
        var (first, abort) = initial is not null ? Decode(initial.Text) : await ChallengeAsync("");
        if (abort is not null) return abort.Value;
        var exchange = new ScramServerExchange(hash);
        if (!exchange.TryReadClientFirst(first!)) return await ScramFailedAsync("", method);
        string user = exchange.User!;
        var (temporary, credentials) = await resolver.GetScramAsync(user, hash, _ct);
        if (temporary) return Result.No("Temporary authentication failure.", "UNAVAILABLE");
        string serverFirst = exchange.ServerFirst(credentials ?? ScramCredentials.Unusable(hash));
        var (final, abort2) = await ChallengeAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(serverFirst)));
        if (abort2 is not null) return abort2.Value;
        if (!exchange.TryVerifyClientFinal(final!, out string serverFinal) || credentials is null)
            return await ScramFailedAsync(user, method);
        var (done, abort3) = await ChallengeAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(serverFinal)));
        if (abort3 is not null) return abort3.Value;
        bool empty = done!.Length == 0;
        CryptographicOperations.ZeroMemory(done);
        if (!empty) return await ScramFailedAsync(user, method);
        _authAttempts++;
        var found = await resolver.FindAsync(user, _ct);
        if (found is null) return await LoginFailedAsync(user, method);
        return LoggedIn(found, method);
    }

    private async ValueTask<Result> ScramFailedAsync(string user, string method)
    {
        _authAttempts++;
        return await LoginFailedAsync(user, method);
    }

    /// <summary>Sends "+ data" and reads the client's base64 answer; "*" cancels (RFC 9051 §6.2.2).</summary>
    private async ValueTask<(byte[]? Data, Result? Abort)> ChallengeAsync(string data)
    {
        _w.Ascii("+ " + data).Crlf();
        await FlushAsync();
        var line = await ReadLineAsync() ?? throw new IOException("end of input during AUTHENTICATE");
        return Decode(Encoding.ASCII.GetString(line));
    }

    private static (byte[]? Data, Result? Abort) Decode(string response)
    {
        if (response == "*") return (null, Result.Bad("Authentication aborted by client."));
        try
        {
            // RFC 4959 §3: "=" is an empty initial response; an empty line is an empty answer.
            return (response is "=" or "" ? [] : Convert.FromBase64String(response), null);
        }
        catch (FormatException)
        {
            return (null, Result.Bad("Invalid base64 data in continued response."));
        }
    }
}
