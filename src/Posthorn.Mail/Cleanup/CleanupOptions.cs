using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Mail.Rewrite;

namespace Posthorn.Mail.Cleanup;

/// <summary>The main.cf settings cleanup(8) runs with, plus what the caller knows about the submission.</summary>
/// <param name="MyOrigin">myorigin: the domain appended to unqualified addresses.</param>
/// <param name="MyHostname">myhostname: the domain part of the Message-Id cleanup adds.</param>
/// <param name="AppendAtMyOrigin">append_at_myorigin: qualify <c>user</c> as <c>user@$myorigin</c>.</param>
/// <param name="HeaderSizeLimit">header_size_limit: the most header bytes held in memory; the rest is body.</param>
/// <param name="HopCountLimit">hopcount_limit: the most Received: headers a message may have.</param>
public sealed record CleanupOptions(
    string MyOrigin,
    string MyHostname,
    bool AppendAtMyOrigin = true,
    int HeaderSizeLimit = 102400,
    int HopCountLimit = 50)
{
    /// <summary>The client matches local_header_rewrite_clients (always true for pickup): header
    /// addresses are qualified, and missing Message-Id/Date/From headers are added.</summary>
    /// <remarks>Postfix cleanup(8) since 2.6: remote SMTP clients get neither, unless
    /// always_add_missing_headers = yes (<see cref="AlwaysAddMissingHeaders"/>).</remarks>
    public bool LocalHeaderRewrite { get; init; } = true;

    /// <summary>always_add_missing_headers: add missing headers for every client.</summary>
    public bool AlwaysAddMissingHeaders { get; init; }

    /// <summary>sendmail -t: take recipients from To:, Cc: and Bcc:, and remove Bcc: headers.</summary>
    public bool ExtractRecipients { get; init; }

    internal bool AddMissingHeaders => LocalHeaderRewrite || AlwaysAddMissingHeaders;

    /// <summary>Canonical mapping, masquerading, virtual aliasing and automatic BCC (see <see cref="AddressRewriter"/>).</summary>
    public RewriteSettings Rewrite { get; init; } = RewriteSettings.None;

    /// <summary>header_checks, mime_header_checks, nested_header_checks, body_checks.</summary>
    public ContentChecks Checks { get; init; } = ContentChecks.None;

    /// <summary>content_filter (<c>transport:nexthop</c>, empty: none): stored in every message's queue file, so that
    /// qmgr delivers all its recipients through the filter (Postfix FILTER_README). A master.cf <c>-o content_filter=</c>
    /// on the re-injection service clears it there.</summary>
    public string ContentFilter { get; init; } = "";

    /// <summary>All cleanup settings of one configuration snapshot; the tables are opened here, once.</summary>
    public static CleanupOptions From(ConfigSnapshot cfg) =>
        new(cfg.Get("myorigin"), cfg.Get("myhostname"), cfg.GetBool("append_at_myorigin"),
            (int)cfg.GetNumber("header_size_limit"), (int)cfg.GetNumber("hopcount_limit"))
        {
            Rewrite = RewriteSettings.From(cfg),
            Checks = ContentChecks.From(cfg),
            ContentFilter = cfg.Get("content_filter").Trim(),
        };
}

/// <summary>cleanup(8) refused the message; <see cref="Reply"/> is what smtpd sends (5xx).</summary>
/// <remarks>Thrown by <see cref="CleanupWriter.CommitAsync"/> so that a refused message can never
/// be acknowledged by mistake; <see cref="CleanupWriter.Rejection"/> shows it earlier.</remarks>
public sealed class CleanupRejectedException(SmtpReply reply) : Exception(reply.ToString())
{
    public SmtpReply Reply { get; } = reply;
}

/// <summary>The replies cleanup(8) gives, in Postfix's words (Postfix cleanup_stat.c; smtpd prefixes "Error: ").</summary>
public static class CleanupReplies
{
    /// <summary>Over hopcount_limit: a mail loop (RFC 5321 §6.3).</summary>
    public static readonly SmtpReply TooManyHops = new(554, "5.4.6", "Error: too many hops");

    /// <summary>No envelope recipient and none found in the headers.</summary>
    public static readonly SmtpReply NoRecipients = new(550, "5.1.0", "Error: no recipients specified");

    /// <summary>Postfix cleanup_strerror.c CLEANUP_STAT_CONT: header_checks or body_checks said REJECT without text.</summary>
    public static readonly SmtpReply ContentRejected = new(550, "5.7.1", "message content rejected");

    /// <summary>Postfix CLEANUP_STAT_WRITE: a rewriting table failed or nested too deep ("try again later").</summary>
    public static readonly SmtpReply WriteError = new(451, "4.3.0", "Error: queue file write error");

    /// <summary>Postfix CLEANUP_STAT_DEFER: virtual alias expansion over its limits, or a content check said DEFER.</summary>
    public static readonly SmtpReply ServiceUnavailable = new(451, "4.7.1", "Error: service unavailable");
}
