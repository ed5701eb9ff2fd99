using Posthorn.Core;

namespace Posthorn.Logging;

/// <summary>qmgr(8) routing lines and the lmtp(8) client's own lines.</summary>
public sealed partial class MailLog
{
    /// <summary><c>warning: connect to transport private/NAME: No such file or directory</c>: a transport with no
    /// master.cf row (Postfix qmgr(8)); its recipients are deferred "mail transport unavailable".</summary>
    public void TransportUnavailable(string transport) =>
        Warning("qmgr", $"connect to transport private/{transport}: No such file or directory");

    /// <summary><c>ID: connect to host[/path]: No such file or directory</c> from lmtp(8), as
    /// <see cref="SmtpConnectFailed"/> is from smtp(8).</summary>
    public void LmtpConnectFailed(QueueId id, string text) => Info("lmtp", $"{id}: {text}");
}
