using System.Globalization;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>MAIL and RCPT: the envelope (Postfix smtpd.c mail_cmd, rcpt_cmd).</summary>
public sealed partial class SmtpServerSession
{
    /// <summary>Postfix strict_rfc821_envelopes (default no). Not in <see cref="SmtpServerOptions"/>, so fixed here.</summary>
    private const bool StrictRfc821Envelopes = false;

    private async ValueTask<bool> MailAsync(ReadOnlyMemory<byte> args)
    {
        // Postfix smtpd.c mail_cmd: "503 5.5.1 Error: send HELO/EHLO first" only with smtpd_helo_required = yes.
        if (_options.HeloRequired && _info.HeloName is null)
        {
            await ReplyAsync(SmtpReplies.SendHeloFirst);
            return false;
        }
        if (_tx is not null)
        {
            await ReplyAsync(SmtpReplies.NestedMail);
            return false;
        }
        var status = SmtpCommandParser.ParseMailFrom(args.Span, StrictRfc821Envelopes, out var sender, out var parameters);
        if (status == SmtpArgumentStatus.Syntax)
        {
            await ReplyAsync(SmtpReplies.MailSyntax);
            return false;
        }
        if (status == SmtpArgumentStatus.BadAddress)
        {
            _log.SmtpdIllegalAddress(Client, "MAIL", AddressText(args.Span, "FROM:"u8.Length));
            await ReplyAsync(SmtpReplies.BadSender);
            return false;
        }
        long declaredSize = 0;
        var extensions = new MailExtensions();
        foreach (var p in parameters)
        {
            if (TryMailExtension(p, ref extensions, out var extensionError))
            {
                if (extensionError is { } bad)
                {
                    await ReplyAsync(bad);
                    return false;
                }
                continue;
            }
            // RFC 6152 §2 (8BITMIME): BODY=7BIT | BODY=8BITMIME.
            if (p.Keyword == "BODY" && p.Value is { } body
                && (body.Equals("7BIT", StringComparison.OrdinalIgnoreCase) || body.Equals("8BITMIME", StringComparison.OrdinalIgnoreCase)))
                continue;
            // RFC 4954 §5: AUTH=<> or AUTH=xtext when AUTH is offered. Like Postfix, the value is checked and not used.
            if (p.Keyword == "AUTH" && p.Value is not null && SaslActive)
            {
                if (!IsXtext(p.Value))
                {
                    await ReplyAsync(SmtpReplies.BadAuthParameter);
                    return false;
                }
                continue;
            }
            if (p.Keyword == "SIZE" && p.Value is not null)
            {
                // RFC 1870 §3: size-value = 1*20DIGIT. Postfix: non-digits give "Bad message size syntax".
                if (p.Value.Length == 0 || !p.Value.All(char.IsAsciiDigit))
                {
                    await ReplyAsync(SmtpReplies.BadMessageSizeSyntax);
                    return false;
                }
                declaredSize = long.TryParse(p.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue;
                continue;
            }
            await ReplyAsync(SmtpReplies.UnsupportedOption(p.Text));
            return false;
        }
        // RFC 1870 §6.2 / Postfix smtpd_check_size: refuse a declared size over message_size_limit at once.
        if (_options.MessageSizeLimit > 0 && declaredSize > _options.MessageSizeLimit)
        {
            await ReplyAsync(SmtpReplies.MessageSizeExceedsLimit);
            return false;
        }

        // Postfix mail_cmd: "553 5.6.7 Must declare SMTPUTF8 to send unicode address".
        if (NeedsSmtpUtf8Declaration(sender, extensions.SmtpUtf8))
        {
            await ReplyAsync(SmtpReplies.MustDeclareSmtpUtf8);
            return false;
        }

        var tx = new SmtpTransaction(_info, sender)
        {
            SmtpUtf8 = extensions.SmtpUtf8,
            DsnReturn = extensions.Return,
            DsnEnvelopeId = extensions.EnvelopeId,
        };
        foreach (var p in parameters) tx.MailParameters[p.Keyword] = p.Value;
        var reply = await _sink.CheckSenderAsync(tx, _ct);
        if (reply is { IsPositive: false } refused)
        {
            LogReject(refused, sender, recipient: null);
            await ReplyAsync(refused);
            return false;
        }
        _tx = tx;
        _arrival = _clock.GetLocalNow();   // Postfix: arrival_time is taken at MAIL FROM.
        await ReplyAsync(reply ?? SmtpReplies.MailOk);
        return true;
    }

    private async ValueTask<bool> RcptAsync(ReadOnlyMemory<byte> args)
    {
        if (_tx is not { } tx)
        {
            await ReplyAsync(SmtpReplies.NeedMail);
            return false;
        }
        var status = SmtpCommandParser.ParseRcptTo(args.Span, StrictRfc821Envelopes, out var recipient, out var parameters);
        if (status == SmtpArgumentStatus.Syntax)
        {
            await ReplyAsync(SmtpReplies.RcptSyntax);
            return false;
        }
        if (status == SmtpArgumentStatus.BadAddress)
        {
            _log.SmtpdIllegalAddress(Client, "RCPT", AddressText(args.Span, "TO:"u8.Length));
            await ReplyAsync(SmtpReplies.BadRecipient);
            return false;
        }
        // RFC 3461 §4.1, §4.2: NOTIFY and ORCPT are the only RCPT parameters known.
        var notify = DsnNotify.Unspecified;
        string? orcpt = null;
        foreach (var p in parameters)
        {
            if (!TryRcptExtension(p, ref notify, ref orcpt, out var error))
                error = SmtpReplies.UnsupportedOption(p.Text);
            if (error is { } bad)
            {
                await ReplyAsync(bad);
                return false;
            }
        }
        if (NeedsSmtpUtf8Declaration(recipient, tx.SmtpUtf8))
        {
            await ReplyAsync(SmtpReplies.MustDeclareSmtpUtf8);
            return false;
        }
        // RFC 5321 §4.5.3.1.8 (at least 100 must be accepted); Postfix smtpd_recipient_limit. Postfix
        // does not count this reply as an error (until smtpd_recipient_overshoot_limit).
        if (_options.RecipientLimit > 0 && tx.Recipients.Count >= _options.RecipientLimit)
        {
            await ReplyAsync(SmtpReplies.TooManyRecipients);
            return true;
        }
        var reply = await _sink.CheckRecipientAsync(tx, recipient, _ct);
        if (reply is { IsPositive: false } refused)
        {
            LogReject(refused, tx.Sender, recipient);
            await ReplyAsync(refused);
            return false;
        }
        tx.Recipients.Add(recipient);
        tx.RecipientDsn.Add(notify == DsnNotify.Unspecified && orcpt is null ? SmtpRecipientDsn.None : new SmtpRecipientDsn(notify, orcpt));
        // Postfix smtpd_delay_open_until_valid_rcpt = yes: the queue file is opened for the first valid recipient.
        tx.Writer ??= await _sink.OpenMessageAsync(tx, _ct);
        await ReplyAsync(reply ?? SmtpReplies.RcptOk);
        return true;
    }

    /// <summary>The address argument as the client wrote it, for the "Illegal address syntax" warning.</summary>
    private static string AddressText(ReadOnlySpan<byte> args, int keywordLength)
    {
        var rest = args.Length > keywordLength ? args[keywordLength..].TrimStart((byte)' ') : default;
        int end = rest.IndexOf((byte)' ');
        return SmtpCommandParser.Printable(end < 0 ? rest : rest[..end]);
    }
}
