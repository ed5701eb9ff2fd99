using System.Text;
using Posthorn.Imap.Auth;

namespace Posthorn.Imap;

/// <summary>LOGIN and AUTHENTICATE PLAIN (RFC 9051 §6.2.2–6.2.3, RFC 4616, RFC 4959 SASL-IR); SCRAM is in
/// ImapServerSession.Scram.cs.</summary>
public sealed partial class ImapServerSession
{
    private async ValueTask<Result> LoginAsync(IReadOnlyList<ImapToken> args)
    {
        if (args.Count != 2) return Result.Bad("Invalid arguments.");
        // RFC 9051 §6.2.3: LOGIN must be refused where plaintext passwords are not allowed.
        if (!_options.PlaintextAllowed)
            return Result.No("Plaintext authentication disallowed on non-secure (SSL/TLS) connections.", "PRIVACYREQUIRED");
        return await CompleteLoginAsync(args[0].Text, args[1].Text, "PLAIN");
    }

    private async ValueTask<Result> AuthenticateAsync(IReadOnlyList<ImapToken> args)
    {
        if (args.Count is < 1 or > 2) return Result.Bad("Invalid arguments.");
        if (ScramMechanism(args[0]) is { } hash) return await ScramAsync(hash, args.Count == 2 ? args[1] : null);
        if (!args[0].IsAtom("PLAIN")) return Result.No("Unsupported authentication mechanism.");
        if (!_options.PlaintextAllowed)
            return Result.No("Plaintext authentication disallowed on non-secure (SSL/TLS) connections.", "PRIVACYREQUIRED");
        string response;
        if (args.Count == 2)
        {
            // RFC 4959 §3: "=" is an empty initial response.
            response = args[1].Text;
        }
        else
        {
            _w.Raw("+ "u8).Crlf();
            await FlushAsync();
            var line = await ReadLineAsync();
            if (line is null) throw new IOException("end of input during AUTHENTICATE");
            response = Encoding.ASCII.GetString(line);
        }
        // RFC 9051 §6.2.2: "*" cancels the exchange.
        if (response == "*") return Result.Bad("Authentication aborted by client.");
        byte[] decoded;
        try
        {
            decoded = response == "=" ? [] : Convert.FromBase64String(response);
        }
        catch (FormatException)
        {
            return Result.Bad("Invalid base64 data in continued response.");
        }
        // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd
        var parts = Encoding.UTF8.GetString(decoded).Split('\0');
        if (parts.Length != 3 || parts[1].Length == 0) return Result.No("Authentication failed.", "AUTHENTICATIONFAILED");
        if (parts[0].Length > 0 && parts[0] != parts[1]) return Result.No("Authorization failed.", "AUTHORIZATIONFAILED");
        return await CompleteLoginAsync(parts[1], parts[2], "PLAIN");
    }

    private async ValueTask<Result> CompleteLoginAsync(string user, string password, string method)
    {
        _authAttempts++;
        var found = await _users.AuthenticateAsync(user, password, _ct);
        return found is null ? await LoginFailedAsync(user, method) : LoggedIn(found, method);
    }

    private async ValueTask<Result> LoginFailedAsync(string user, string method)
    {
        // Dovecot auth_failure_delay: slow down guessing. Like Dovecot, the failure is logged once, at
        // disconnect, with the last user and method tried (fail2ban counts that one line per connection).
        await Task.Delay(_options.AuthFailureDelay, _clock, _ct);
        _failedLogin = (Printable(user), method);
        return Result.No("Authentication failed.", "AUTHENTICATIONFAILED");
    }

    private Result LoggedIn(ImapUser found, string method)
    {
        _user = found;
        _account = _store.OpenAccount(found.Name, found.Maildir);
        _log.ImapLogin("imap", found.Name, method, _options.RemoteIp, _options.LocalIp, _options.SecurityLabel, _options.SessionId);
        return Result.Ok("Logged in", "CAPABILITY " + Capabilities());
    }

    /// <summary>Client text for the log: controls and non-ASCII as "?" (Postfix printable()).</summary>
    internal static string Printable(string s)
    {
        var sb = new StringBuilder(Math.Min(s.Length, 100));
        foreach (char c in s.Length > 100 ? s[..100] : s) sb.Append(c is >= ' ' and < (char)0x7f ? c : '?');
        return sb.ToString();
    }
}
