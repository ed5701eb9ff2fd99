using System.Text;
using Posthorn.Logging;

namespace Posthorn.Daemon.Policy;

/// <summary>Postfix smtpd_check.c log_whatsup: the one-line record of a policy event that is not a plain
/// reject (<c>reject_warning</c>, <c>warn</c>, <c>hold</c>, <c>discard</c>), in the same shape as the
/// <c>NOQUEUE: reject: RCPT from …</c> line the engine writes.</summary>
internal static class PolicyLog
{
    public static void WhatsUp(MailLog log, PolicyRequest request, string whatsup, string text)
    {
        var s = request.Session;
        var line = new StringBuilder();
        line.Append(request.QueueId?.ToString() ?? "NOQUEUE").Append(": ").Append(whatsup).Append(": ")
            .Append(request.Command).Append(" from ").Append(s.ClientDescription).Append(": ").Append(text).Append(';');
        if (request.Sender is { } sender) line.Append(" from=<").Append(sender).Append('>');
        if (request.Recipient is { } rcpt) line.Append(" to=<").Append(rcpt).Append('>');
        line.Append(" proto=").Append(s.Protocol);
        if (s.HeloName is { } helo) line.Append(" helo=<").Append(helo).Append('>');
        log.Info("smtpd", line.ToString());
    }

    /// <summary>Postfix smtpd(8): <c>improper command pipelining after CMD from host[addr]: rest of input</c>, once per
    /// session, when the client sent commands ahead of time where it may not (reject_unauth_pipelining).</summary>
    public static void ImproperPipelining(MailLog log, string command, string client, string pending) =>
        log.Info("smtpd", $"improper command pipelining after {command} from {client}: {pending}");
}
