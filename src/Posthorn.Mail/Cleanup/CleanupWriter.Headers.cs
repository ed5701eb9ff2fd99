using System.Globalization;
using System.Text;
using MimeKit;
using Posthorn.Core;
using Posthorn.Mail.Rewrite;

namespace Posthorn.Mail.Cleanup;

/// <summary>cleanup(8) header processing: runs once, when the header section ends.</summary>
public sealed partial class CleanupWriter
{
    // Postfix header_opts.c: the headers whose addresses cleanup rewrites (HDR_OPT_RECIP/SENDER).
    private static readonly HashSet<string> AddressHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Errors-To", "Return-Receipt-To",
        "Resent-From", "Resent-Sender", "Resent-Reply-To", "Resent-To", "Resent-Cc", "Resent-Bcc",
    };

    // Postfix header_opts.c HDR_OPT_SENDER: the rest of AddressHeaders are recipient headers.
    private static readonly HashSet<string> SenderHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "From", "Sender", "Resent-From", "Resent-Sender", "Return-Path",
    };

    private static readonly FormatOptions HeaderFormat = CreateHeaderFormat();

    private static FormatOptions CreateHeaderFormat()
    {
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Unix;   // queue files keep LF line ends
        format.International = true;                 // keep UTF-8 phrases as they came
        return format;
    }

    private async ValueTask FinishHeadersAsync(bool needSeparator, CancellationToken ct)
    {
        _inHeader = false;

        // Postfix hopcount_limit: "The maximal number of Received: message headers that is allowed
        // in the primary message headers. A message that exceeds the limit is bounced."
        int hops = _headers.Count(h => h.Is("Received"));
        if (hops > _options.HopCountLimit)
        {
            Rejection = CleanupReplies.TooManyHops;
            _log.CleanupReject(Id, $"{hops} Received: headers, hopcount_limit {_options.HopCountLimit}", CleanupReplies.TooManyHops);
            _headers.Clear();
            return;
        }

        var output = new MemoryStream();
        // Postfix access(5) PREPEND: smtpd's headers go before all others.
        foreach (string p in Actions.PrependHeaders) WriteLine(output, p);
        var checks = _options.Checks;
        foreach (var header in _headers)
        {
            if (Rejection is not null) break;
            if (header.Is("Content-Type")) EnterContent(ParseContentType(header.Raw));
            // Postfix cleanup_message.c: the checks see the header as received, before address rewriting.
            var prepends = new List<string>();
            var edit = IsMimeHeader(header.Name)
                ? Check(checks.Mime, "mime_header_checks", "header", CheckText(header.Raw), prepends, out string? replacement)
                : Check(checks.Header, "header_checks", "header", CheckText(header.Raw), prepends, out replacement);
            foreach (string p in prepends) WriteLine(output, p);
            if (edit == Edit.Drop) continue;
            if (edit == Edit.Replace)
            {
                WriteLine(output, replacement!);
                continue;
            }
            if (AddressHeaders.Contains(header.Name)) RewriteAddresses(header);
            // sendmail -t: Bcc: names recipients and must not travel with the message.
            if (_options.ExtractRecipients && (header.Is("Bcc") || header.Is("Resent-Bcc"))) continue;
            output.Write(header.Raw);
        }
        if (Rejection is not null)
        {
            _headers.Clear();
            return;
        }

        string? messageId = _headers.FirstOrDefault(h => h.Is("Message-ID"))?.UnfoldedValue;
        if (_options.AddMissingHeaders)
        {
            var now = _clock.GetUtcNow();
            if (messageId is null)
            {
                // Postfix cleanup: Message-Id: <YYYYMMDDhhmmss.QUEUEID@$myhostname>, time in UTC.
                messageId = $"<{now.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)}.{Id}@{_options.MyHostname}>";
                WriteHeader(output, "Message-Id", messageId);
            }
            if (!_headers.Any(h => h.Is("Date")))
                WriteHeader(output, "Date", FormatDate(TimeZoneInfo.ConvertTime(now, _clock.LocalTimeZone)));
            if (!_headers.Any(h => h.Is("From")) && Sender is { } sender)
                WriteHeader(output, "From", FromHeaderValue(sender));
        }
        if (messageId is not null) _log.CleanupMessageId(Id, messageId);
        if (needSeparator) output.WriteByte((byte)'\n');
        _headers.Clear();
        await _inner.WriteAsync(output.GetBuffer().AsMemory(0, (int)output.Length), ct).ConfigureAwait(false);
    }

    /// <summary>Qualifies unqualified addresses (append_at_myorigin, local clients only), applies canonical
    /// mapping and masquerading to header addresses (canonical_classes and friends: header_sender,
    /// header_recipient), and collects recipients for sendmail -t. The field is rewritten only if an address changed.</summary>
    private void RewriteAddresses(HeaderField header)
    {
        bool qualify = _options.LocalHeaderRewrite && _options.AppendAtMyOrigin;
        bool extract = _options.ExtractRecipients && (header.Is("To") || header.Is("Cc") || header.Is("Bcc"));
        if (!qualify && !extract && _rewriter is null) return;
        if (!InternetAddressList.TryParse(ParserOptions.Default, header.ValueBytes, out var list)) return;
        bool changed = false;
        bool senderHeader = SenderHeaders.Contains(header.Name);
        foreach (var mailbox in list.Mailboxes)
        {
            if (mailbox.Address.Length == 0) continue;
            string address = mailbox.Address;
            if (qualify && !address.Contains('@'))
                address = $"{address}@{_options.MyOrigin}";
            // Postfix cleanup_rewrite_tree: header addresses of remote clients are rewritten too, but only
            // qualified ones (an unqualified address is left for local_header_rewrite_clients).
            if (_rewriter is not null && address.Contains('@'))
            {
                try
                {
                    address = senderHeader
                        ? _rewriter.RewriteSender(address, AddressClasses.HeaderSender)
                        : _rewriter.RewriteRecipient(address, AddressClasses.HeaderRecipient);
                }
                catch (RewriteDeferredException e)
                {
                    _log.CleanupDeferred(Id, e.Message);
                    Rejection = CleanupReplies.WriteError;
                    return;
                }
            }
            if (address != mailbox.Address)
            {
                mailbox.Address = address;
                changed = true;
            }
            if (extract)
                _extracted.Add(Qualify(SmtpPath.FromAddress(mailbox.Address), _options).ToString());
        }
        if (changed)
        {
            string value = list.ToString(HeaderFormat, encode: true);
            header.Raw = Encoding.UTF8.GetBytes($"{header.Name}: {value}\n");
        }
    }

    private string FromHeaderValue(SmtpPath sender)
    {
        // Postfix cleanup: the null sender becomes MAILER-DAEMON (empty_address_recipient).
        if (sender.IsNull) return "MAILER-DAEMON";
        string address = Qualify(sender, _options).ToString();
        // Postfix: the generated From: carries the sender as canonical mapping and masquerading left it.
        if (_rewriter is not null)
        {
            try
            {
                address = _rewriter.RewriteSender(address, AddressClasses.HeaderSender);
            }
            catch (Rewrite.RewriteDeferredException e)
            {
                _log.CleanupDeferred(Id, e.Message);
                Rejection = CleanupReplies.WriteError;
            }
        }
        // Postfix hfrom_format = standard: "From: name <address>".
        return SenderFullName is { Length: > 0 } name
            ? new MailboxAddress(name, address).ToString(HeaderFormat, encode: true)
            : address;
    }

    private static void WriteHeader(MemoryStream output, string name, string value) =>
        output.Write(Encoding.UTF8.GetBytes($"{name}: {value}\n"));

    /// <summary>RFC 5322 §3.3 date-time, as Postfix mail_date() writes it: day padded with a space
    /// (<c>Tue,  2 Dec 2025 13:17:08 +0100</c>). DEVIATION: without the "(CET)" zone comment.</summary>
    internal static string FormatDate(DateTimeOffset t)
    {
        var offset = t.Offset;
        char sign = offset < TimeSpan.Zero ? '-' : '+';
        offset = offset.Duration();
        return t.ToString("ddd, ", CultureInfo.InvariantCulture)
            + t.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2)
            + t.ToString(" MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture)
            + $"{sign}{offset.Hours:00}{offset.Minutes:00}";
    }
}
