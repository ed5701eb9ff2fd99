using System.Text;
using System.Text.Unicode;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>The MAIL and RCPT parameters of DSN (RFC 3461) and SMTPUTF8 (RFC 6531), checked as Postfix's
/// smtpd.c mail_cmd and rcpt_cmd check them.</summary>
public sealed partial class SmtpServerSession
{
    /// <summary>RFC 3461 §4.4: "The ENVID parameter … MUST NOT exceed 100 characters".</summary>
    private const int MaxEnvelopeIdLength = 100;

    private bool DsnOffered => !_options.DiscardEhloKeywords.Contains("dsn");

    private bool SmtpUtf8Offered => _options.SmtpUtf8Enable && !_options.DiscardEhloKeywords.Contains("smtputf8");

    /// <summary>MAIL FROM extension values gathered before the transaction exists.</summary>
    private struct MailExtensions
    {
        public bool SmtpUtf8;
        public DsnReturn Return;
        public string? EnvelopeId;
    }

    /// <summary>Handles SMTPUTF8, RET and ENVID.</summary>
    /// <returns>False when <paramref name="p"/> is none of them; otherwise true, with
    /// <paramref name="error"/> set when its value is refused.</returns>
    private bool TryMailExtension(SmtpParameter p, ref MailExtensions x, out SmtpReply? error)
    {
        error = null;
        switch (p.Keyword)
        {
            case "SMTPUTF8" when p.Value is null && SmtpUtf8Offered:
                // RFC 6531 §3.4: "SMTPUTF8" takes no value.
                x.SmtpUtf8 = true;
                return true;
            case "RET":
                if (!DsnOffered) error = SmtpReplies.DsnDisabled;
                // RFC 3461 §4.3: ret-value = "FULL" / "HDRS", given at most once.
                else if (x.Return != DsnReturn.Unspecified) error = SmtpReplies.BadRetSyntax;
                else if ("FULL".Equals(p.Value, StringComparison.OrdinalIgnoreCase)) x.Return = DsnReturn.Full;
                else if ("HDRS".Equals(p.Value, StringComparison.OrdinalIgnoreCase)) x.Return = DsnReturn.Headers;
                else error = SmtpReplies.BadRetSyntax;
                return true;
            case "ENVID":
                if (!DsnOffered) error = SmtpReplies.DsnDisabled;
                // RFC 3461 §4.4: ENVID=xtext, printable once decoded, at most 100 characters.
                else if (x.EnvelopeId is not null || p.Value is null || !Xtext.TryDecode(p.Value, out var envid)
                    || envid.Length is 0 or > MaxEnvelopeIdLength || envid.Any(c => c is < ' ' or > '~'))
                    error = SmtpReplies.BadEnvidSyntax;
                else x.EnvelopeId = envid;
                return true;
            default:
                return false;
        }
    }

    /// <summary>Handles NOTIFY and ORCPT; see <see cref="TryMailExtension"/>.</summary>
    private bool TryRcptExtension(SmtpParameter p, ref DsnNotify notify, ref string? orcpt, out SmtpReply? error)
    {
        error = null;
        switch (p.Keyword)
        {
            case "NOTIFY":
                if (!DsnOffered) error = SmtpReplies.DsnDisabled;
                else if (notify != DsnNotify.Unspecified || !TryParseNotify(p.Value, out notify)) error = SmtpReplies.BadNotifySyntax;
                return true;
            case "ORCPT":
                if (!DsnOffered) error = SmtpReplies.DsnDisabled;
                else if (orcpt is not null || !TryParseOrcpt(p.Value, out orcpt)) error = SmtpReplies.BadOrcptSyntax;
                return true;
            default:
                return false;
        }
    }

    /// <summary>RFC 3461 §4.1: notify-esmtp-value = "NEVER" / 1#notify-list-element;
    /// notify-list-element = "SUCCESS" / "FAILURE" / "DELAY". NEVER stands alone; no element twice.</summary>
    internal static bool TryParseNotify(string? value, out DsnNotify notify)
    {
        notify = DsnNotify.Unspecified;
        if (string.IsNullOrEmpty(value)) return false;
        foreach (var element in value.Split(','))
        {
            var flag = element.ToUpperInvariant() switch
            {
                "NEVER" => DsnNotify.Never,
                "SUCCESS" => DsnNotify.Success,
                "FAILURE" => DsnNotify.Failure,
                "DELAY" => DsnNotify.Delay,
                _ => DsnNotify.Unspecified,
            };
            if (flag == DsnNotify.Unspecified || (notify & flag) != 0) return false;
            notify |= flag;
        }
        return notify == DsnNotify.Never || (notify & DsnNotify.Never) == 0;
    }

    /// <summary>RFC 3461 §4.2: orcpt-parameter = "ORCPT=" addr-type ";" xtext. The type is an atom
    /// ("rfc822"; RFC 6533 adds "utf-8", whose address may carry UTF-8 as it is).</summary>
    /// <param name="orcpt"><c>type;address</c>, the address decoded.</param>
    internal static bool TryParseOrcpt(string? value, out string? orcpt)
    {
        orcpt = null;
        int semicolon = value?.IndexOf(';') ?? -1;
        if (value is null || semicolon <= 0 || semicolon == value.Length - 1) return false;
        string type = value[..semicolon], coded = value[(semicolon + 1)..];
        if (!type.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')) return false;
        bool utf8Type = type.Equals("utf-8", StringComparison.OrdinalIgnoreCase);
        if (utf8Type && !coded.Contains('\uFFFD') && coded.All(c => c > '~' || (c > ' ' && c != '+' && c != '=')))
        {
            orcpt = $"{type};{coded}";
            return true;
        }
        if (!Xtext.TryDecode(coded, out var address) || address.Length == 0) return false;
        orcpt = $"{type};{address}";
        return true;
    }

    /// <summary>Postfix (smtputf8_enable = yes): an address with non-ASCII text needs MAIL FROM's SMTPUTF8.</summary>
    private bool NeedsSmtpUtf8Declaration(SmtpPath address, bool declared) =>
        SmtpUtf8Offered && !declared && !Ascii.IsValid(address.ToString());

    /// <summary>Postfix smtpd_proto (smtputf8_enable = yes): a command line that is not UTF-8 is refused whole.</summary>
    private bool IsBadUtf8(ReadOnlySpan<byte> line) => SmtpUtf8Offered && !Utf8.IsValid(line);
}
