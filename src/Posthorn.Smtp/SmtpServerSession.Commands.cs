using System.Globalization;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>HELO, EHLO, RSET, NOOP, VRFY, ETRN, QUIT. Each handler replies and returns whether the
/// command succeeded (Postfix: a failed command counts toward the error limits).</summary>
public sealed partial class SmtpServerSession
{
    private async ValueTask<bool> HeloAsync(ReadOnlyMemory<byte> args, bool extended)
    {
        if (args.IsEmpty)
        {
            await ReplyAsync(extended ? SmtpReplies.EhloSyntax : SmtpReplies.HeloSyntax);
            return false;
        }
        // RFC 5321 §4.1.4: EHLO (and HELO, in Postfix) resets the state as RSET would.
        await EndTransactionAsync();
        _info.HeloName = SmtpCommandParser.SanitizeHeloName(args.Span);
        if (extended) _info.Protocol = "ESMTP";
        // Postfix helo_cmd: HELO after EHLO keeps "ESMTP" ("downgrading breaks the unauthorized pipelining test").
        else if (_info.Protocol != "ESMTP") _info.Protocol = "SMTP";

        if (!extended)
        {
            await ReplyAsync(SmtpReplies.Helo(_options.Hostname));
            return true;
        }
        var offered = new List<string> { "PIPELINING" };
        // RFC 1870 §4: "SIZE" followed by the limit, or bare when there is none.
        offered.Add(_options.MessageSizeLimit > 0 ? "SIZE " + _options.MessageSizeLimit.ToString(CultureInfo.InvariantCulture) : "SIZE");
        if (!_options.DisableVrfy) offered.Add("VRFY");
        offered.Add("ETRN");
        if (TlsOffered) offered.Add("STARTTLS");   // RFC 3207 §4; never again once TLS is on.
        var mechanisms = SaslMechanisms();
        if (mechanisms.Count > 0)
        {
            offered.Add("AUTH " + string.Join(' ', mechanisms));   // RFC 4954 §3
            // Postfix broken_sasl_auth_clients: the pre-RFC form that old Outlook versions look for.
            if (_options.BrokenSaslAuthClients) offered.Add("AUTH=" + string.Join(' ', mechanisms));
        }
        offered.Add("ENHANCEDSTATUSCODES");
        offered.Add("8BITMIME");
        offered.Add("DSN");   // RFC 3461 §4
        if (_options.SmtpUtf8Enable) offered.Add("SMTPUTF8");   // RFC 6531 §3.3; Postfix smtputf8_enable
        offered.Add("CHUNKING");   // RFC 3030 §3 (Postfix 3.4 and later offer it by default, last)

        // Postfix smtpd_discard_ehlo_keywords: compared case-insensitively with the keyword's first word.
        var discard = _options.DiscardEhloKeywords;
        var kept = offered.Where(k => !discard.Contains(k.Split(' ', '=')[0].ToLowerInvariant())).ToList();
        if (kept.Count < offered.Count && !discard.Contains("silent-discard"))
            _log.SmtpdDiscardingEhloKeywords(string.Join(' ', offered.Except(kept).Select(k => k.Split(' ', '=')[0]).Distinct()));
        await ReplyAsync(SmtpReplies.Ehlo(_options.Hostname, kept));
        return true;
    }

    private async ValueTask<bool> RsetAsync(ReadOnlyMemory<byte> args)
    {
        if (!args.IsEmpty)
        {
            await ReplyAsync(SmtpReplies.RsetSyntax);
            return false;
        }
        await EndTransactionAsync();   // RFC 5321 §4.1.1.5: abort the transaction, discard its data.
        await ReplyAsync(SmtpReplies.Ok);
        return true;
    }

    /// <summary>RFC 5321 §4.1.1.9: NOOP may carry a string, which is ignored.</summary>
    private async ValueTask<bool> NoopAsync()
    {
        await ReplyAsync(SmtpReplies.Ok);
        return true;
    }

    private async ValueTask<bool> QuitAsync()
    {
        await ReplyAsync(SmtpReplies.Bye);
        _hangup = true;
        return true;
    }

    private async ValueTask<bool> VrfyAsync(ReadOnlyMemory<byte> args)
    {
        if (_options.DisableVrfy)
        {
            await ReplyAsync(SmtpReplies.VrfyDisabled);
            return false;
        }
        if (args.IsEmpty)
        {
            await ReplyAsync(SmtpReplies.VrfySyntax);
            return false;
        }
        if (!SmtpCommandParser.TryParsePath(args.Span, allowNullPath: false, strictRfc821: false, out var address))
        {
            _log.SmtpdIllegalAddress(Client, "VRFY", SmtpCommandParser.Printable(args.Span));
            await ReplyAsync(SmtpReplies.BadRecipient);
            return false;
        }
        var reply = await _sink.VerifyAsync(_info, address, _ct);
        if (!reply.IsPositive) LogReject(reply, sender: null, recipient: address);
        await ReplyAsync(reply);
        return reply.IsPositive;
    }

    /// <summary>RFC 1985 ETRN. Posthorn has no fast flush service, so a well-formed request gets
    /// Postfix's answer for an unavailable one: <c>458 Unable to queue messages</c>.</summary>
    private async ValueTask<bool> EtrnAsync(ReadOnlyMemory<byte> args)
    {
        if (_info.HeloName is null)
        {
            await ReplyAsync(SmtpReplies.SendHeloFirst);
            return false;
        }
        if (_tx is not null)
        {
            await ReplyAsync(SmtpReplies.EtrnInTransaction);
            return false;
        }
        var span = args.Span;
        if (span.IsEmpty || span.IndexOfAny((byte)' ', (byte)'\t') >= 0)
        {
            await ReplyAsync(SmtpReplies.EtrnSyntax);
            return false;
        }
        if (span[0] is (byte)'@' or (byte)'#') span = span[1..];   // RFC 1985 §5: "@domain", "#queue"
        if (!SmtpCommandParser.IsValidDomain(span))
        {
            await ReplyAsync(SmtpReplies.EtrnBadParameter);
            return false;
        }
        if (await RefuseEtrnAsync(System.Text.Encoding.ASCII.GetString(span))) return false;   // SmtpServerSession.Pipelining.cs
        await ReplyAsync(SmtpReplies.EtrnUnavailable);
        return false;
    }

    /// <summary>Logs a refusal that came from the sink (a restriction), as Postfix's smtpd_check logs it.</summary>
    private void LogReject(SmtpReply reply, SmtpPath? sender, SmtpPath? recipient)
    {
        // Postfix smtpd_check.c: an unknown user (x.1.0, x.1.1) is a "bounce" class error, a protocol refusal (x.5.x:
        // reject_unauth_pipelining) a "protocol" one, other refusals "policy".
        _transcript?.Error(reply.Status switch
        {
            { Subject: 1, Detail: 0 or 1 } => SmtpErrorClasses.Bounce,
            { Subject: 5 } => SmtpErrorClasses.Protocol,
            _ => SmtpErrorClasses.Policy,
        });
        _log.SmtpdReject(_tx?.Writer?.Id, _where, Client, SmtpReplies.ForLog(SoftBounced(reply)),
            sender is null ? null : LogAddress(sender), recipient is null ? null : LogAddress(recipient),
            _info.Protocol, _info.HeloName);
    }

    private static string LogAddress(SmtpPath path) =>
        SmtpCommandParser.Printable(System.Text.Encoding.UTF8.GetBytes(path.ToString()));
}
