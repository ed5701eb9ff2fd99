using System.Security.Cryptography;
using System.Text;
using Posthorn.Imap;
using Posthorn.Imap.Auth;
using Posthorn.Sasl;

namespace Posthorn.Pop3;

/// <summary>AUTH (RFC 5034): PLAIN (RFC 4616, where plaintext is allowed) and SCRAM-SHA-1 / SCRAM-SHA-256
/// (RFC 5802, RFC 7677, when the user database has SCRAM credentials), and the login bookkeeping that
/// USER/PASS shares.</summary>
/// <remarks>RFC 5034 §4: challenges are "+ base64", "*" cancels, an initial response may follow the
/// mechanism ("=" for an empty one). The SCRAM server signature goes out as a last challenge answered with an
/// empty line, as RFC 5034 has no success data in +OK. An unknown user fails at the end of the exchange like
/// a wrong password.</remarks>
public sealed partial class Pop3ServerSession
{
    private int _attempts;
    private (string User, string? Method) _failedLogin = ("", null);
    private DateTimeOffset _start;

    /// <summary>RFC 5034 §5: the SASL capability, or null when no mechanism can be used here.</summary>
    private string? SaslCapability()
    {
        var mechs = new List<string>();
        if (_options.PlaintextAllowed) mechs.Add("PLAIN");
        if (users is IImapScramUserResolver scram)
        {
            if (scram.OffersScram(ScramHash.Sha256)) mechs.Add("SCRAM-SHA-256");
            if (scram.OffersScram(ScramHash.Sha1)) mechs.Add("SCRAM-SHA-1");
        }
        return mechs.Count == 0 ? null : "SASL " + string.Join(' ', mechs);
    }

    private async ValueTask AuthAsync(string arg)
    {
        int sp = arg.IndexOf(' ');
        string mechanism = (sp < 0 ? arg : arg[..sp]).ToUpperInvariant();
        string? initial = sp < 0 ? null : arg[(sp + 1)..];
        ScramHash? hash = mechanism switch { "SCRAM-SHA-256" => ScramHash.Sha256, "SCRAM-SHA-1" => ScramHash.Sha1, _ => null };
        if (mechanism == "PLAIN" && _options.PlaintextAllowed)
        {
            var (data, ok) = initial is not null ? await DecodeOrRefuseAsync(initial == "=" ? "" : initial) : await ChallengeAsync("");
            if (!ok) return;
            // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd
            var parts = Encoding.UTF8.GetString(data!).Split('\0');
            CryptographicOperations.ZeroMemory(data);
            _attempts++;
            if (parts.Length != 3 || parts[1].Length == 0 || parts[0].Length > 0 && parts[0] != parts[1])
            {
                await LoginFailedAsync(parts.Length == 3 ? parts[1] : "", "PLAIN");
                return;
            }
            await CompleteLoginAsync(await users.AuthenticateAsync(parts[1], parts[2], _ct), parts[1], "PLAIN");
            return;
        }
        if (hash is { } h && users is IImapScramUserResolver resolver && resolver.OffersScram(h))
        {
            await ScramAsync(h, resolver, initial);
            return;
        }
        await SendAsync(mechanism == "PLAIN"
            ? "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
            : "-ERR Unsupported authentication mechanism.");
    }

    private async ValueTask ScramAsync(ScramHash hash, IImapScramUserResolver resolver, string? initial)
    {
        string method = ScramCredentials.MechanismName(hash);
        var (first, ok) = initial is not null ? await DecodeOrRefuseAsync(initial == "=" ? "" : initial) : await ChallengeAsync("");
        if (!ok) return;
        var exchange = new ScramServerExchange(hash);
        if (!exchange.TryReadClientFirst(first!))
        {
            _attempts++;
            await LoginFailedAsync("", method);
            return;
        }
        string user = exchange.User!;
        var (temporary, credentials) = await resolver.GetScramAsync(user, hash, _ct);
        if (temporary)
        {
            await SendAsync("-ERR [SYS/TEMP] Temporary authentication failure.");
            return;
        }
        var (final, ok2) = await ChallengeAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(
            exchange.ServerFirst(credentials ?? ScramCredentials.Unusable(hash)))));
        if (!ok2) return;
        _attempts++;
        if (!exchange.TryVerifyClientFinal(final!, out string serverFinal) || credentials is null)
        {
            await LoginFailedAsync(user, method);
            return;
        }
        var (done, ok3) = await ChallengeAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(serverFinal)));
        if (!ok3) return;
        if (done!.Length != 0)
        {
            await LoginFailedAsync(user, method);
            return;
        }
        await CompleteLoginAsync(await resolver.FindAsync(user, _ct), user, method);
    }

    /// <summary>Sends "+ data" and reads the base64 answer; false (after answering -ERR) when it was "*" or not base64.</summary>
    private async ValueTask<(byte[]? Data, bool Ok)> ChallengeAsync(string data)
    {
        await SendAsync("+ " + data);
        string line = await ReadLineAsync() ?? throw new IOException("end of input during AUTH");
        return await DecodeOrRefuseAsync(line);
    }

    private async ValueTask<(byte[]? Data, bool Ok)> DecodeOrRefuseAsync(string response)
    {
        if (response == "*")
        {
            // RFC 5034 §4: "*" cancels; the server answers -ERR.
            await SendAsync("-ERR Authentication aborted by client.");
            return (null, false);
        }
        if (response.Length == 0) return ([], true);
        if (TryBase64(response, out var bytes)) return (bytes, true);
        await SendAsync("-ERR Invalid base64 data in continued response.");
        return (null, false);
    }

    private static bool TryBase64(string s, out byte[] bytes)
    {
        try
        {
            bytes = Convert.FromBase64String(s);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }

    /// <summary>Opens INBOX for a user who proved the password, or refuses the login (USER/PASS and AUTH).</summary>
    private async ValueTask CompleteLoginAsync(ImapUser? found, string name, string method)
    {
        if (found is null)
        {
            await LoginFailedAsync(name, method);
            return;
        }
        // RFC 1939 §8: the maildrop is locked from here until the session ends.
        // As Dovecot with pop3_lock_session: the login stands, the session ends with the reason.
        if (_options.Pop3Locks is { } locks && !locks.TryAcquire(found.Name))
        {
            log.ImapLogin("pop3", found.Name, method, _options.RemoteIp, _options.LocalIp, _options.SecurityLabel, _options.SessionId);
            log.ImapError("pop3", found.Name, "Couldn't open INBOX: Mailbox is locked by another POP3 session");
            await SendAsync("-ERR [IN-USE] Mailbox is locked by another POP3 session.");
            _lockedOut = true;
            return;
        }
        if (_options.Pop3Locks is not null) _heldMaildrop = found.Name;
        _box = await store.OpenAccount(found.Name, found.Maildir).OpenAsync("INBOX", false, _ct);
        if (_box is null)
        {
            ReleaseMaildrop();
            await SendAsync("-ERR [SYS/TEMP] Mailbox unavailable.");
            return;
        }
        // RFC 1939 §5 STAT/LIST give exact octet counts: a first scan's estimates are made exact (the view takes them).
        await _box.ResolveAsync(_box.Messages, _ct);
        _user = found;
        log.ImapLogin("pop3", found.Name, method, _options.RemoteIp, _options.LocalIp, _options.SecurityLabel, _options.SessionId);
        await SendAsync("+OK Logged in.");
    }

    private async ValueTask LoginFailedAsync(string name, string method)
    {
        // Dovecot auth_failure_delay; the failure is logged once, at disconnect, as Dovecot does (fail2ban's
        // dovecot filter counts that line).
        await Task.Delay(_options.AuthFailureDelay, clock, _ct);
        _failedLogin = (ImapServerSession.Printable(name), method);
        await SendAsync("-ERR [AUTH] Authentication failed.");
    }
}
