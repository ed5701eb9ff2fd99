using System.Text;
using Posthorn.Config.Tables;
using Posthorn.Core;

namespace Posthorn.Mail.Cleanup;

/// <summary>header_checks(5) actions: one table result applied to one header or body line.</summary>
public sealed partial class CleanupWriter
{
    private enum Edit { Keep, Drop, Replace }

    /// <summary>Postfix cleanup_act_log: at most this many characters of the header or line are logged.</summary>
    private const int LoggedContentLength = 200;

    /// <summary>Looks <paramref name="text"/> up in <paramref name="tables"/> and applies the action found.</summary>
    /// <param name="cls">"header" or "body", for the log.</param>
    /// <param name="prepends">Receives the text of PREPEND actions, to be written before the line.</param>
    private Edit Check(IReadOnlyList<ILookupTable> tables, string mapName, string cls, string text, List<string> prepends,
        out string? replacement)
    {
        replacement = null;
        if (tables.Count == 0 || Rejection is not null || Discarded)
            return Edit.Keep;
        string value;
        try
        {
            if (!LookupTables.TryLookup(tables, text, out value))
                return Edit.Keep;
        }
        catch (LookupTableException e)
        {
            _log.CleanupDeferred(Id, $"{mapName} map lookup problem -- message not accepted, try again later ({e.Message})");
            Rejection = CleanupReplies.WriteError;
            return Edit.Keep;
        }
        string v = value.Trim();
        int space = v.AsSpan().IndexOfAny(' ', '\t');
        string command = space < 0 ? v : v[..space];
        string arg = space < 0 ? "" : v[(space + 1)..].Trim();
        switch (command.ToUpperInvariant())
        {
            case "REJECT":
                // Postfix header_checks(5) REJECT optional text: "Reject the entire message"; without text the
                // reply is cleanup's "5.7.1 message content rejected".
                var reply = arg.Length == 0 ? CleanupReplies.ContentRejected : TextReply(550, "5.7.1", arg);
                LogAction("reject", cls, text, $"{reply.Status} {reply.Text}");
                Rejection = reply;
                return Edit.Keep;
            case "DEFER":
                var deferred = arg.Length == 0 ? CleanupReplies.ServiceUnavailable : TextReply(451, "4.7.1", arg);
                LogAction("defer", cls, text, $"{deferred.Status} {deferred.Text}");
                Rejection = deferred;
                return Edit.Keep;
            case "WARN":
                LogAction("warning", cls, text, arg);
                return Edit.Keep;
            case "INFO":
                LogAction("info", cls, text, arg);
                return Edit.Keep;
            case "IGNORE":
                // Postfix: "Delete the current line from the input stream."
                return Edit.Drop;
            case "PREPEND":
                if (arg.Length == 0) break;
                prepends.Add(arg);
                return Edit.Keep;
            case "REPLACE":
                if (arg.Length == 0) break;
                replacement = arg;
                return Edit.Replace;
            case "DISCARD":
                // Postfix: "Claim successful delivery and silently discard the message."
                LogAction("discard", cls, text, arg);
                Discarded = true;
                return Edit.Keep;
            case "HOLD":
                // Postfix header_checks(5) HOLD optional text: "Arrange for the message to be placed on the hold
                // queue"; logged as "ID: hold: header … from ORIGIN; from=<…> to=<…> proto=… helo=<…>: text".
                LogAction("hold", cls, text, arg);
                Actions.Hold = true;
                return Edit.Keep;
            case "REDIRECT":
                if (arg.Length == 0) break;
                LogAction("redirect", cls, text, arg);
                Actions.Redirect = arg;
                return Edit.Keep;
            case "FILTER":
                if (arg.Length == 0 || !arg.Contains(':')) break;
                LogAction("filter", cls, text, arg);
                Actions.Filter = arg;
                return Edit.Keep;
            case "DUNNO":
            case "OK":
                return Edit.Keep;
        }
        // Postfix cleanup_act: msg_warn("unknown command in %s map: %s").
        _log.Warning("cleanup", $"{Id}: unknown command in {mapName} map: {v}");
        return Edit.Keep;
    }

    /// <summary>A reply whose text may start with its own RFC 3463 status of the same class ("REJECT 5.7.0 no").</summary>
    private static SmtpReply TextReply(short code, string dsn, string text)
    {
        int space = text.IndexOf(' ');
        string first = space < 0 ? text : text[..space];
        if (first.Length > 0 && first[0] == dsn[0] && EnhancedStatus.TryParse(first, out _))
            return new SmtpReply(code, first, space < 0 ? "" : text[(space + 1)..].TrimStart());
        return new SmtpReply(code, dsn, text);
    }

    /// <summary>Postfix cleanup_act_log: <c>CLASS CONTENT from ORIGIN; from=&lt;…&gt; to=&lt;…&gt; proto=… helo=&lt;…&gt;: TEXT</c>.</summary>
    private void LogAction(string action, string cls, string content, string text)
    {
        string shown = content.Replace("\r", "").Replace("\n", "");
        if (shown.Length > LoggedContentLength) shown = shown[..LoggedContentLength];
        var line = new StringBuilder();
        line.Append(cls).Append(' ').Append(shown).Append(" from ").Append(LogOrigin).Append(';');
        if (Sender is { } sender) line.Append(" from=<").Append(sender).Append('>');
        if (EnvelopeRecipients is { Count: > 0 } rcpts) line.Append(" to=<").Append(rcpts[^1]).Append('>');
        if (Protocol is { } proto) line.Append(" proto=").Append(proto);
        if (Helo is { } helo) line.Append(" helo=<").Append(helo).Append('>');
        if (text.Length > 0) line.Append(": ").Append(text);
        _log.CleanupAction(Id, action, line.ToString());
    }

    /// <summary>A header's text as header_checks sees it: the whole logical header, folding newlines kept, no final newline.</summary>
    private static string CheckText(byte[] raw)
    {
        string s = Encoding.UTF8.GetString(raw);
        return s.Replace("\r", "").TrimEnd('\n');
    }

    /// <summary>Postfix mime_state.c: the headers that mime_header_checks inspects instead of header_checks.</summary>
    private static bool IsMimeHeader(string name) =>
        name.Equals("MIME-Version", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase);
}
