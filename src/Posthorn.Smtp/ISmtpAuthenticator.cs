using Posthorn.Core;
using Posthorn.Sasl;

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

/// <summary>An authenticator that can also give a user's shared secret, which CRAM-MD5 (RFC 2195) needs: the
/// server computes the same keyed digest as the client. Offered only when the secrets are kept in a plaintext
/// scheme (Dovecot passwd-file {PLAIN}/{CLEAR}); a hashed password cannot serve.</summary>
public interface ISmtpSecretAuthenticator : ISmtpAuthenticator
{
    /// <summary>True when <see cref="GetSecretAsync"/> can answer for the users of this database.</summary>
    bool HasPlaintextSecrets { get; }

    /// <summary>The user's secret: <see cref="SmtpAuthResult.Success"/> with it, <see cref="SmtpAuthResult.Failure"/>
    /// for an unknown user (or one whose password is not kept in plaintext), or a temporary failure.</summary>
    ValueTask<(SmtpAuthResult Result, string? Secret)> GetSecretAsync(string user, CancellationToken ct);
}

/// <summary>An authenticator that also limits how often a client may start AUTH (Postfix
/// smtpd_client_auth_rate_limit, counted by anvil). The engine asks before each AUTH exchange.</summary>
public interface ISmtpAuthRateLimiter
{
    /// <summary>Counts one AUTH command of the session's client and returns the refusal when it is over the
    /// limit (Postfix: <c>450 4.7.1 Error: too many AUTH commands from addr</c>), or null to go on.</summary>
    SmtpReply? CheckAuthRate(SmtpSessionInfo session);
}

/// <summary>An authenticator that can give what a SCRAM exchange (RFC 5802, RFC 7677) checks a login against:
/// Dovecot-style stored SCRAM credentials, or ones derived from a plaintext secret.</summary>
public interface ISmtpScramAuthenticator : ISmtpAuthenticator
{
    /// <summary>True when <see cref="GetScramCredentialsAsync"/> can answer for some users with this hash.</summary>
    bool OffersScram(ScramHash hash);

    /// <summary>The user's credentials: <see cref="SmtpAuthResult.Success"/> with them, <see cref="SmtpAuthResult.Failure"/>
    /// for an unknown user or one without usable credentials, or a temporary failure.</summary>
    ValueTask<(SmtpAuthResult Result, ScramCredentials? Credentials)> GetScramCredentialsAsync(string user, ScramHash hash, CancellationToken ct);
}
