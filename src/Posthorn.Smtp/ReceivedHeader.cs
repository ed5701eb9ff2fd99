using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>The Received: header smtpd(8) puts first in every message (RFC 5321 §4.4, RFC 5322 §3.6.7),
/// in Postfix's layout (smtpd.c data_cmd), lines ending in LF as the writer expects:</summary>
/// <remarks>
/// <code>
/// Received: from HELO (NAME [ADDR])
///         by $myhostname ($mail_name) with ESMTP id QUEUEID
///         for &lt;RCPT&gt;; Tue, 25 Nov 2026 13:17:08 +0000 (UTC)
/// </code>
/// The <c>for</c> clause only when the message has exactly one recipient; otherwise the id line ends
/// in ";" and the date has a line of its own. An IPv6 client address is written "IPv6:…" (RFC 5321 §4.1.3).
/// With smtpd_tls_received_header and TLS on, two lines follow the "from" line:
/// <c>(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))</c> and
/// <c>(No client certificate requested)</c>; with smtpd_sasl_authenticated_header and a SASL login,
/// <c>(Authenticated sender: alice)</c>. RFC 3848: the protocol is ESMTPS, ESMTPA or ESMTPSA when so.
/// </remarks>
public static class ReceivedHeader
{
    public static string Format(SmtpSessionInfo session, SmtpServerOptions options, SmtpTransaction tx, QueueId id,
        DateTimeOffset arrival, TimeZoneInfo zone)
    {
        string address = session.Client.Address.AddressFamily == AddressFamily.InterNetworkV6 && !session.Client.Address.IsIPv4MappedToIPv6
            ? "IPv6:" + session.AddressText : session.AddressText;
        var sb = new StringBuilder(256);
        sb.Append("Received: from ").Append(session.HeloName ?? session.ClientName)
          .Append(" (").Append(session.ClientName).Append(" [").Append(address).Append("])\n");
        if (options.TlsReceivedHeader && session.IsTls)
        {
            sb.Append("\t(using ").Append(session.TlsProtocol).Append(" with cipher ").Append(session.TlsCipher)
              .Append(" (").Append(session.TlsCipherBits).Append('/').Append(session.TlsCipherBits).Append(" bits))\n");
            sb.Append("\t(No client certificate requested)\n");
        }
        if (options.SaslAuthenticatedHeader && session.SaslUsername is { } user)
            sb.Append("\t(Authenticated sender: ").Append(user).Append(")\n");
        sb.Append("\tby ").Append(options.Hostname).Append(" (").Append(options.MailName).Append(") with ")
          .Append(WithProtocol(session, tx.SmtpUtf8)).Append(" id ").Append(id);
        if (tx.Recipients.Count == 1)
            sb.Append("\n\tfor <").Append(tx.Recipients[0]).Append(">; ").Append(FormatDate(arrival, zone)).Append('\n');
        else
            sb.Append(";\n\t").Append(FormatDate(arrival, zone)).Append('\n');
        return sb.ToString();
    }

    /// <summary>RFC 3848: ESMTP becomes ESMTPS over TLS, ESMTPA after AUTH, ESMTPSA with both. RFC 6531
    /// §3.7.4.2: a transaction with SMTPUTF8 is UTF8SMTP, UTF8SMTPS, UTF8SMTPA or UTF8SMTPSA.</summary>
    public static string WithProtocol(SmtpSessionInfo session, bool smtpUtf8 = false) =>
        session.Protocol != "ESMTP" ? session.Protocol
        : (smtpUtf8 ? "UTF8SMTP" : "ESMTP") + (session.IsTls ? "S" : "") + (session.IsSaslAuthenticated ? "A" : "");

    /// <summary>Postfix mail_date(): RFC 5322 §3.3 date-time, day of month padded with a space as
    /// strftime's %e does, then the zone abbreviation in a comment when one is known:
    /// <c>Tue,  4 Nov 2026 13:17:08 +0100 (CET)</c>.</summary>
    public static string FormatDate(DateTimeOffset time, TimeZoneInfo zone)
    {
        var inv = CultureInfo.InvariantCulture;
        var offset = time.Offset;
        char sign = offset < TimeSpan.Zero ? '-' : '+';
        offset = offset.Duration();
        string text = time.ToString("ddd, ", inv) + time.Day.ToString(inv).PadLeft(2) + time.ToString(" MMM yyyy HH:mm:ss ", inv)
            + sign + offset.Hours.ToString("00", inv) + offset.Minutes.ToString("00", inv);
        string? abbreviation = ZoneAbbreviation(time, zone);
        return abbreviation is null ? text : $"{text} ({abbreviation})";
    }

    private static string? ZoneAbbreviation(DateTimeOffset time, TimeZoneInfo zone)
    {
        if (time.Offset == TimeSpan.Zero && (zone == TimeZoneInfo.Utc || zone.Id is "UTC" or "Etc/UTC" or "Etc/UCT" or "UCT" or "Universal" or "Etc/Universal" or "Zulu" or "Etc/Zulu"))
            return "UTC";
        string name = zone.IsDaylightSavingTime(time) ? zone.DaylightName : zone.StandardName;
        // Only a short abbreviation ("CET", "+03") is what strftime's %Z shows; a long display name is left out.
        return name.Length is >= 2 and <= 6 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-') ? name : null;
    }
}
