namespace Posthorn.Smtp;

/// <summary>What AUTH (RFC 4954) asks of the rest of the system: is this password right for this user?
/// The daemon implements it over its user database; the engine never sees how passwords are kept.</summary>
public interface ISmtpAuthenticator
{
    /// <summary>Checks one user name and password, as PLAIN and LOGIN deliver them.</summary>
    ValueTask<SmtpAuthResult> AuthenticateAsync(string user, string password, CancellationToken ct);
}

/// <summary>The outcome of <see cref="ISmtpAuthenticator.AuthenticateAsync"/>.</summary>
public enum SmtpAuthResult : byte
{
    /// <summary><c>235 2.7.0 Authentication successful</c></summary>
    Success,
    /// <summary>Unknown user or wrong password (not told apart on the wire):
    /// <c>535 5.7.8 Error: authentication failed: authentication failure</c></summary>
    Failure,
    /// <summary>The database could not be read: <c>454 4.7.0 Temporary authentication failure</c></summary>
    TemporaryFailure,
}
