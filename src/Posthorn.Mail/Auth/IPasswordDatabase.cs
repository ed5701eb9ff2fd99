namespace Posthorn.Mail.Auth;

/// <summary>The user database that SMTP AUTH (and later IMAP and POP3) log in against (DESIGN.md:
/// system accounts and/or a Dovecot-style passwd-file, behind one interface).</summary>
public interface IPasswordDatabase
{
    /// <summary>Checks a password. Unknown user and wrong password are the same answer, so that a
    /// client cannot tell which user names exist.</summary>
    ValueTask<AuthResult> VerifyAsync(string user, string password, CancellationToken ct);
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
