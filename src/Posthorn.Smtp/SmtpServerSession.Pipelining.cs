using System.Buffers;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>Improper command pipelining (Postfix reject_unauth_pipelining) and the ETRN policy hook.</summary>
public sealed partial class SmtpServerSession
{
    private bool _improperPipelining;

    /// <summary>Postfix smtpd.c: when a command is read and more client input is already waiting, the client did not
    /// wait for the reply. RFC 2920 §3.1: "The EHLO, DATA, VRFY, EXPN, TURN, QUIT, and NOOP commands can only appear
    /// as the last command in a group"; Postfix adds HELO. Before EHLO, after HELO, or with PIPELINING withheld by
    /// smtpd_discard_ehlo_keywords, no command may be sent ahead. The sink is told once per session.</summary>
    private void CheckPipelining(SmtpVerb verb)
    {
        if (_improperPipelining || _buffer.IsEmpty || _sink is not ISmtpSessionPolicy policy)
            return;
        bool pipeliningOffered = _info.Protocol == "ESMTP" && !_options.DiscardEhloKeywords.Contains("pipelining");
        bool mustBeLast = verb is SmtpVerb.Helo or SmtpVerb.Ehlo or SmtpVerb.Data or SmtpVerb.Vrfy or SmtpVerb.Noop or SmtpVerb.Quit;
        if (pipeliningOffered && !mustBeLast)
            return;
        _improperPipelining = true;
        ReadOnlySpan<byte> pending = _buffer.Slice(0, Math.Min(_buffer.Length, 100)).ToArray();
        int eol = pending.IndexOfAny((byte)'\r', (byte)'\n');
        policy.ImproperPipelining(_info, verb.ToString().ToUpperInvariant(), SmtpCommandParser.Printable(eol < 0 ? pending : pending[..eol]));
    }

    /// <summary>Postfix smtpd(8) etrn_cmd: smtpd_check_etrn runs before the fast flush service is asked; its refusal
    /// is the reply, logged as a reject. False when the sink has no session policy or permits.</summary>
    private async ValueTask<bool> RefuseEtrnAsync(string domain)
    {
        if (_sink is not ISmtpSessionPolicy policy || await policy.CheckEtrnAsync(_info, domain, _ct) is not { } refused)
            return false;
        LogReject(refused, sender: null, recipient: null);
        await ReplyAsync(refused);
        return true;
    }
}
