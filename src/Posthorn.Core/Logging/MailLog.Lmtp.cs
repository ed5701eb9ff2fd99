namespace Posthorn.Logging;

/// <summary>lmtpd's lines, worded as Dovecot 2.3's lmtp logs them (<c>dovecot[PID]: lmtp: Connect from local</c>,
/// <c>dovecot[PID]: lmtp(alice)&lt;ID&gt;: msgid=&lt;…&gt;: saved mail to INBOX</c>).</summary>
public sealed partial class MailLog
{
    /// <summary><c>lmtp: Connect from 127.0.0.1</c> (or <c>local</c> for a Unix socket).</summary>
    public void LmtpConnect(string client) => DovecotInfo("lmtp", $"Connect from {client}");

    /// <summary><c>lmtp: Disconnect from local: Client has quit the connection</c>.</summary>
    public void LmtpDisconnect(string client, string reason) => DovecotInfo("lmtp", $"Disconnect from {client}: {reason}");

    /// <summary><c>lmtp(alice)&lt;ID&gt;: msgid=&lt;x@y&gt;: saved mail to INBOX</c>.</summary>
    public void LmtpSaved(string user, string id, string messageId, string mailbox) =>
        DovecotInfo($"lmtp({user})<{id}>", $"msgid={messageId}: saved mail to {mailbox}");

    /// <summary><c>lmtp(alice)&lt;ID&gt;: msgid=&lt;x@y&gt;: save failed to INBOX: reason</c>.</summary>
    public void LmtpSaveFailed(string user, string id, string messageId, string mailbox, string reason) =>
        DovecotInfo($"lmtp({user})<{id}>", $"msgid={messageId}: save failed to {mailbox}: {reason}");
}
