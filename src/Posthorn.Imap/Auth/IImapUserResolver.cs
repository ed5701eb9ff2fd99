namespace Posthorn.Imap.Auth;

/// <summary>A user who logged in: the name sessions log and the Maildir the store opens.</summary>
public sealed record ImapUser(string Name, string Maildir);

/// <summary>Checks a login for imapd and pop3d; null when the user is unknown or the password wrong
/// (the caller does not learn which, and neither does the client).</summary>
public interface IImapUserResolver
{
    ValueTask<ImapUser?> AuthenticateAsync(string user, string password, CancellationToken ct);
}

/// <summary>A user resolver that can also serve SCRAM (RFC 5802, RFC 7677): the credentials of a user for the
/// challenge-response exchange, and the user's mailbox once the exchange has proved the password.</summary>
/// <remarks>Security: credentials go only to the exchange, never to a log.</remarks>
public interface IImapScramUserResolver : IImapUserResolver
{
    /// <summary>Whether any user has credentials usable with <paramref name="hash"/> (then AUTH=SCRAM-… is offered).</summary>
    bool OffersScram(Posthorn.Sasl.ScramHash hash);

    /// <summary>The user's credentials; null when the user is unknown or has none for this hash;
    /// <c>Temporary</c> when the database could not be read.</summary>
    ValueTask<(bool Temporary, Posthorn.Sasl.ScramCredentials? Credentials)> GetScramAsync(string user,
        Posthorn.Sasl.ScramHash hash, CancellationToken ct);

    /// <summary>The user and mailbox after a successful exchange (no password: the exchange checked it); null if gone.</summary>
    ValueTask<ImapUser?> FindAsync(string user, CancellationToken ct);
}
