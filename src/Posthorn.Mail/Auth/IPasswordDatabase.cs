namespace Posthorn.Mail.Auth;

/// <summary>The one user database that SMTP AUTH, imapd, pop3d and lmtpd log in and look users up
/// against (DESIGN.md: system accounts and/or a Dovecot-style passwd-file, behind one interface).</summary>
/// <remarks>It plays both of Dovecot's roles: the passdb (<see cref="VerifyAsync"/>, <see cref="LoginAsync"/>)
/// and the userdb (<see cref="FindAsync"/>: home, uid and gid of a user, for delivery without a password).
/// Open one with <see cref="UserDatabase.Open"/>.</remarks>
public interface IPasswordDatabase
{
    /// <summary>Checks a password. Unknown user and wrong password are the same answer, so that a
    /// client cannot tell which user names exist.</summary>
    ValueTask<AuthResult> VerifyAsync(string user, string password, CancellationToken ct);

    /// <summary>Checks a password and, on success, returns the account (its home, uid and gid), as
    /// imapd and pop3d need to open the mailbox. <see cref="UserLookup.User"/> is set only on success.</summary>
    ValueTask<UserLookup> LoginAsync(string user, string password, CancellationToken ct);

    /// <summary>Finds a user without a password (Dovecot's userdb lookup, as LMTP delivery does):
    /// <see cref="AuthResult.Success"/> with the account, <see cref="AuthResult.Failure"/> for no such user.</summary>
    ValueTask<UserLookup> FindAsync(string user, CancellationToken ct);
}

/// <summary>A user database that keeps some passwords in a plaintext scheme and can give them out, as
/// challenge-response mechanisms (CRAM-MD5, RFC 2195) need: the server computes the client's digest itself.</summary>
/// <remarks>Security: the secret goes only to the authentication code, never to a log.</remarks>
public interface IPlaintextSecretDatabase : IPasswordDatabase
{
    /// <summary>True when at least one user's password is kept in plaintext.</summary>
    bool HasPlaintextSecrets { get; }

    /// <summary>The user's plaintext password: Success with it, Failure for an unknown user or a hashed
    /// password, TemporaryFailure when the database cannot be read.</summary>
    ValueTask<(AuthResult Result, string? Secret)> GetSecretAsync(string user, CancellationToken ct);
}

/// <summary>A user database that can give SCRAM credentials (RFC 5802): stored ones (Dovecot's {SCRAM-SHA-1} and
/// {SCRAM-SHA-256} schemes) or ones derived from a plaintext password.</summary>
public interface IScramSecretDatabase : IPasswordDatabase
{
    /// <summary>True when at least one user has credentials usable with <paramref name="hash"/>.</summary>
    bool HasScramSecrets(Posthorn.Sasl.ScramHash hash);

    /// <summary>The user's credentials: Success with them, Failure for an unknown user or one whose password
    /// cannot serve this hash, TemporaryFailure when the database cannot be read.</summary>
    ValueTask<(AuthResult Result, Posthorn.Sasl.ScramCredentials? Credentials)> GetScramAsync(string user, Posthorn.Sasl.ScramHash hash, CancellationToken ct);
}

/// <summary>The outcome of <see cref="IPasswordDatabase.VerifyAsync"/>.</summary>
public enum AuthResult : byte
{
    /// <summary>The password is right.</summary>
    Success,
    /// <summary>No such user, a wrong password, or a hash scheme that cannot be checked here.</summary>
    Failure,
    /// <summary>The database could not be read; the client may try again later.</summary>
    TemporaryFailure,
}

/// <summary>The outcome of a login or a user lookup: the account when <see cref="Result"/> is Success.</summary>
public readonly record struct UserLookup(AuthResult Result, MailUser? User)
{
    public static UserLookup Failure => new(AuthResult.Failure, null);
    public static UserLookup TemporaryFailure => new(AuthResult.TemporaryFailure, null);
}

/// <summary>One account of the user database (the passwd-file fields after the password, or getpwnam(3)).</summary>
/// <param name="Name">The login name.</param>
/// <param name="Uid">The owner of the user's mail; null when the passwd-file leaves the field empty
/// (the mail is then written as the daemon's own user).</param>
/// <param name="Gid">The group of the user's mail; null when empty.</param>
/// <param name="Home">The home directory; empty when the passwd-file gives none.</param>
public sealed record MailUser(string Name, int? Uid, int? Gid, string Home)
{
    /// <summary>The user's mailbox: <paramref name="homeMailbox"/> (Postfix home_mailbox, Posthorn
    /// imapd_mailbox, e.g. "Maildir/") under the home, or the home itself when it is empty; null when the
    /// user has no home.</summary>
    public string? MailboxPath(string homeMailbox) => Home.Length == 0 ? null : System.IO.Path.Join(Home, homeMailbox);
}

/// <summary>Opens the user database the configuration names.</summary>
public static class UserDatabase
{
    /// <summary>posthorn_passwd_file when set (a <see cref="PasswdFile"/>), otherwise the system accounts
    /// (<see cref="SystemPasswordDatabase"/>), as for SMTP AUTH.</summary>
    public static IPasswordDatabase Open(string passwdFile) =>
        passwdFile.Trim() is { Length: > 0 } file ? new PasswdFile(file) : new SystemPasswordDatabase();
}
