using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>Session-level policy hooks that an <see cref="ISmtpTransactionSink"/> may also implement: improper
/// command pipelining (Postfix reject_unauth_pipelining) and ETRN (smtpd_etrn_restrictions). A sink without it
/// keeps the engine's own behaviour.</summary>
public interface ISmtpSessionPolicy
{
    /// <summary>Postfix smtpd.c SMTPD_FLAG_ILL_PIPELINING: the client sent more input after <paramref name="command"/>
    /// without waiting for the reply where RFC 2920 does not allow that. Called at most once per session.</summary>
    /// <param name="pending">The start of the input that came ahead of time, printable, for the log.</param>
    void ImproperPipelining(SmtpSessionInfo session, string command, string pending);

    /// <summary>A well-formed ETRN for <paramref name="domain"/>: the restriction's refusal, or null to go on.</summary>
    ValueTask<SmtpReply?> CheckEtrnAsync(SmtpSessionInfo session, string domain, CancellationToken ct);
}
