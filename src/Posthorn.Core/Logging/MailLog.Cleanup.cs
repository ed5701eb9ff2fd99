using Posthorn.Core;

namespace Posthorn.Logging;

/// <summary>cleanup(8), pickup(8) and postsuper(1) lines.</summary>
public sealed partial class MailLog
{
    /// <summary><c>ID: message-id=&lt;20251125131708.3F1A2B0C4D@host.example&gt;</c> (postfix/cleanup).</summary>
    public void CleanupMessageId(QueueId id, string messageId) =>
        Info("cleanup", $"{id}: message-id={messageId}");

    /// <summary><c>ID: reject: too many hops; from=&lt;a@b&gt; to=&lt;c@d&gt;: 5.4.6 ...</c> (postfix/cleanup).</summary>
    public void CleanupReject(QueueId id, string what, SmtpReply reply) =>
        Info("cleanup", $"{id}: reject: {what}: {reply.Status} {reply.Text}");

    /// <summary><c>ID: uid=1000 from=&lt;alice&gt;</c> (postfix/pickup).</summary>
    public void PickupReceived(QueueId id, uint uid, string sender) =>
        Info("pickup", $"{id}: uid={uid} from=<{sender}>");

    /// <summary><c>ID: removed</c>, <c>ID: placed on hold</c>, <c>ID: released from hold</c>,
    /// <c>ID: requeued</c> (postfix/postsuper).</summary>
    public void PostsuperAction(QueueId id, string action) =>
        Info("postsuper", $"{id}: {action}");

    /// <summary><c>Deleted: 3 messages</c> and the other postsuper(1) summaries.</summary>
    public void PostsuperSummary(string text) => Info("postsuper", text);

    /// <summary>A header_checks/body_checks action (Postfix cleanup_act_log):
    /// <c>ID: reject: header Subject: spam from host[addr]; from=&lt;a@b&gt; to=&lt;c@d&gt; proto=ESMTP helo=&lt;h&gt;: 5.7.1 message content rejected</c>.
    /// <paramref name="action"/> is reject, warning, info, hold, discard, redirect, filter or replace.</summary>
    public void CleanupAction(QueueId id, string action, string details) =>
        Info("cleanup", $"{id}: {action}: {details}");

    /// <summary><c>warning: ID: canonical_maps map lookup problem for a@b -- message not accepted, try again later</c>.</summary>
    public void CleanupDeferred(QueueId id, string detail) =>
        Warning("cleanup", $"{id}: {detail}");
}
