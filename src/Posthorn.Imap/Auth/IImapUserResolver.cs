namespace Posthorn.Imap.Auth;

/// <summary>A user who logged in: the name sessions log and the Maildir the store opens.</summary>
public sealed record ImapUser(string Name, string Maildir);

/// <summary>Checks a login for imapd and pop3d; null when the user is unknown or the password wrong
/// (the caller does not learn which, and neither does the client).</summary>
public interface IImapUserResolver
{
    ValueTask<ImapUser?> AuthenticateAsync(string user, string password, CancellationToken ct);
}
