using Posthorn.Config;
using Posthorn.Config.Tables;
using Posthorn.Core;

namespace Posthorn.Daemon.Smtpd;

/// <summary>smtpd(8)'s view of virtual(8) mailboxes: which domains are virtual mailbox domains and
/// whether a recipient there has a mailbox (smtpd_reject_unlisted_recipient).</summary>
/// <remarks>
/// Postfix VIRTUAL_README and postconf(5) smtpd_reject_unlisted_recipient: in a virtual mailbox
/// domain a recipient is known when virtual_alias_maps or virtual_mailbox_maps has it; otherwise
/// RCPT TO gets "550 5.1.1 &lt;addr&gt;: Recipient address rejected: User unknown in virtual mailbox
/// table" (the code is unknown_virtual_mailbox_reject_code). postconf(5) reject_unauth_destination:
/// a virtual mailbox domain is a destination of this host, so mail to it is not relaying.
/// Lookup order as Postfix mail_addr_find(): <c>user+ext@domain</c>, <c>user@domain</c> (without the
/// recipient_delimiter extension), <c>@domain</c>. Keys are lower case.
/// A table that cannot answer gives "451 4.3.0 … Temporary lookup failure", never an accept or a 5xx.
/// Security: the address comes from an untrusted client; it is only used as a lookup key.
/// Parameters: virtual_mailbox_domains, virtual_mailbox_maps, virtual_alias_maps,
/// recipient_delimiter, unknown_virtual_mailbox_reject_code, smtpd_reject_unlisted_recipient.
/// </remarks>
public sealed class VirtualRecipients
{
    private readonly DomainList _domains;
    private readonly ILookupTable[] _mailboxes;
    private readonly ILookupTable[] _aliases;
    private readonly string _delimiter;
    private readonly short _rejectCode;
    private readonly bool _rejectUnlisted;

    private VirtualRecipients(DomainList domains, ILookupTable[] mailboxes, ILookupTable[] aliases, string delimiter,
        short rejectCode, bool rejectUnlisted)
    {
        (_domains, _mailboxes, _aliases, _delimiter, _rejectCode, _rejectUnlisted) =
            (domains, mailboxes, aliases, delimiter, rejectCode, rejectUnlisted);
    }

    /// <summary>The settings of one configuration snapshot; tables that cannot be opened fail their lookups.</summary>
    public static VirtualRecipients From(ConfigSnapshot cfg)
    {
        ILookupTable[] Tables(string parameter) =>
            [.. cfg.GetList(parameter).Select(spec => LookupTables.OpenOrFail(spec, cfg.TableOptions))];
        short code = short.TryParse(cfg.Get("unknown_virtual_mailbox_reject_code"), out var c) ? c : (short)550;
        return new VirtualRecipients(cfg.DomainListOf("virtual_mailbox_domains"), Tables("virtual_mailbox_maps"),
            Tables("virtual_alias_maps"), cfg.Get("recipient_delimiter"), code, cfg.GetBool("smtpd_reject_unlisted_recipient"));
    }

    /// <summary>Whether <paramref name="domain"/> is listed in virtual_mailbox_domains.</summary>
    /// <exception cref="LookupTableException">a table in the list cannot answer.</exception>
    public bool IsVirtualDomain(string domain) => domain.Length > 0 && _domains.Matches(domain.TrimEnd('.'));

    /// <summary>The RCPT TO rejection for <paramref name="rcpt"/>, or null when it is not in a
    /// virtual mailbox domain, has a mailbox or alias there, or unlisted recipients are allowed.</summary>
    public SmtpReply? Check(SmtpPath rcpt)
    {
        try
        {
            if (!_rejectUnlisted || !IsVirtualDomain(rcpt.Domain)) return null;
            foreach (string key in Keys(rcpt))
                if (LookupTables.TryLookup(_aliases, key, out _) || LookupTables.TryLookup(_mailboxes, key, out _))
                    return null;
        }
        catch (LookupTableException)
        {
            // Postfix: a lookup error is never taken as "unknown"; the client tries again later.
            return new SmtpReply(451, "4.3.0", $"<{rcpt}>: Recipient address rejected: Temporary lookup failure");
        }
        return new SmtpReply(_rejectCode, "5.1.1", $"<{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table");
    }

    /// <summary>Postfix mail_addr_find() keys: the address, without its extension, then <c>@domain</c>.</summary>
    private IEnumerable<string> Keys(SmtpPath rcpt)
    {
        string local = rcpt.LocalPart.ToLowerInvariant(), domain = "@" + rcpt.Domain.TrimEnd('.').ToLowerInvariant();
        yield return local + domain;
        if (_delimiter.Length > 0 && local.AsSpan().IndexOfAny(_delimiter) is > 0 and var i)
            yield return local[..i] + domain;
        yield return domain;
    }
}
