using Posthorn.Config.Tables;
using Posthorn.Core;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Policy;

/// <summary>smtpd_sender_login_maps and the restrictions that use it: reject_sender_login_mismatch,
/// reject_authenticated_sender_login_mismatch and reject_unauthenticated_sender_login_mismatch (Postfix postconf(5)).</summary>
/// <remarks>
/// The maps give, for a MAIL FROM address, the SASL login names that own it (a list separated by commas or
/// white space). The address is looked up as Postfix's mail_addr_find does: <c>user+ext@domain</c>,
/// <c>user@domain</c>, <c>user</c> (only for a local domain), <c>@domain</c>. The null sender is never checked.
/// Replies are Postfix smtpd_check.c's: <c>553 5.7.1 &lt;addr&gt;: Sender address rejected: not owned by user NAME</c>
/// and <c>553 5.7.1 &lt;addr&gt;: Sender address rejected: not logged in</c>.
/// Security: the address comes from the client; it is only used as a lookup key.
/// Parameters: smtpd_sender_login_maps, recipient_delimiter.
/// </remarks>
public static class SenderLoginCheck
{
    /// <summary>The outcome: a refusal, a table that could not answer (the caller defers), or neither.</summary>
    public readonly record struct Result(SmtpReply? Reject, string? LookupError);

    /// <summary>True for the three restriction names this class implements.</summary>
    public static bool Handles(string restriction) => restriction is "reject_sender_login_mismatch"
        or "reject_authenticated_sender_login_mismatch" or "reject_unauthenticated_sender_login_mismatch";

    /// <summary>Evaluates <paramref name="restriction"/> for <paramref name="request"/>.</summary>
    public static Result Evaluate(string restriction, PolicyRequest request, RestrictionSettings restrictions, Func<string, bool> isLocalDomain)
    {
        if (request.Sender is not { IsNull: false } sender) return default;
        var session = request.Session;
        // Postfix: the authenticated form checks only logged-in clients, the unauthenticated form only the others.
        bool checkLoggedIn = restriction != "reject_unauthenticated_sender_login_mismatch";
        bool checkAnonymous = restriction != "reject_authenticated_sender_login_mismatch";
        if (session.IsSaslAuthenticated ? !checkLoggedIn : !checkAnonymous) return default;

        var specs = restrictions.Config.GetList("smtpd_sender_login_maps");
        string? owners = null;
        if (specs.Count > 0)
        {
            try
            {
                var keys = LookupKeys.ForAddress(sender.ToString(), restrictions.RecipientDelimiter, isLocalDomain(sender.Domain));
                if (LookupKeys.TryFind([.. specs.Select(restrictions.Table)], keys, out _, out var value)) owners = value;
            }
            catch (LookupTableException e)
            {
                return new Result(null, $"smtpd_sender_login_maps lookup error: {e.Message}");
            }
        }
        if (session.SaslUsername is { } user)
        {
            // Postfix reject_sender_login_mismatch: "the client is (SASL) logged in, but the client login name
            // doesn't own the MAIL FROM address according to $smtpd_sender_login_maps".
            return IsOwner(owners, user) ? default
                : new Result(new SmtpReply(553, "5.7.1", $"<{sender}>: Sender address rejected: not owned by user {user}"), null);
        }
        // "… specifies an owner for the MAIL FROM address, but the client is not (SASL) logged in".
        return owners is null ? default
            : new Result(new SmtpReply(553, "5.7.1", $"<{sender}>: Sender address rejected: not logged in"), null);
    }

    /// <summary>Whether <paramref name="user"/> is one of the owners (names compared without regard to case).</summary>
    public static bool IsOwner(string? owners, string user) =>
        owners is not null && owners.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Any(o => o.Equals(user, StringComparison.OrdinalIgnoreCase));
}
