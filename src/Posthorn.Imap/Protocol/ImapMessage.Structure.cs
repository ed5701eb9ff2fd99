using System.Text;
using MimeKit;
using MimeKit.Utils;

namespace Posthorn.Imap;

/// <summary>ENVELOPE and BODY/BODYSTRUCTURE (RFC 9051 §7.5.2).</summary>
public sealed partial class ImapMessage
{
    /// <summary>env-date env-subject env-from env-sender env-reply-to env-to env-cc env-bcc env-in-reply-to env-message-id.</summary>
    public void WriteEnvelope(ImapResponseWriter w) => WriteEnvelope(w, Message);

    private static void WriteEnvelope(ImapResponseWriter w, MimeMessage m)
    {
        w.Raw("("u8);
        w.NString(RawHeader(m.Headers, HeaderId.Date)).Raw(" "u8);
        w.NString(RawHeader(m.Headers, HeaderId.Subject)).Raw(" "u8);
        WriteAddresses(w, m.From);
        w.Raw(" "u8);
        // RFC 9051 §7.5.2: a missing Sender or Reply-To is filled in from From.
        WriteAddresses(w, m.Sender is { } sender ? new InternetAddressList([sender]) : m.From);
        w.Raw(" "u8);
        WriteAddresses(w, m.ReplyTo.Count > 0 ? m.ReplyTo : m.From);
        w.Raw(" "u8);
        WriteAddresses(w, m.To);
        w.Raw(" "u8);
        WriteAddresses(w, m.Cc);
        w.Raw(" "u8);
        WriteAddresses(w, m.Bcc);
        w.Raw(" "u8);
        w.NString(RawHeader(m.Headers, HeaderId.InReplyTo)).Raw(" "u8);
        w.NString(RawHeader(m.Headers, HeaderId.MessageId)).Raw(")"u8);
    }

    /// <summary>A header's value as sent (still RFC 2047-encoded), unfolded and trimmed; null when absent.</summary>
    private static string? RawHeader(HeaderList headers, HeaderId id)
    {
        int i = headers.IndexOf(id);
        if (i < 0) return null;
        string v = Encoding.UTF8.GetString(headers[i].RawValue);
        return v.Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal).Trim();
    }

    private static void WriteAddresses(ImapResponseWriter w, InternetAddressList list)
    {
        if (list.Count == 0) { w.Raw("NIL"u8); return; }
        w.Raw("("u8);
        foreach (var a in list) WriteAddress(w, a);
        w.Raw(")"u8);
    }

    private static void WriteAddress(ImapResponseWriter w, InternetAddress a)
    {
        if (a is GroupAddress g)
        {
            // RFC 9051 §7.5.2: a group is (NIL NIL "name" NIL) ... members ... (NIL NIL NIL NIL).
            w.Raw("(NIL NIL "u8).NString(Phrase(g.Name ?? "")).Raw(" NIL)"u8);
            foreach (var member in g.Members) WriteAddress(w, member);
            w.Raw("(NIL NIL NIL NIL)"u8);
            return;
        }
        var mb = (MailboxAddress)a;
        w.Raw("("u8).NString(string.IsNullOrEmpty(mb.Name) ? null : Phrase(mb.Name)).Raw(" NIL "u8);
        w.NString(mb.LocalPart).Raw(" "u8).NString(string.IsNullOrEmpty(mb.Domain) ? null : mb.Domain).Raw(")"u8);
    }

    /// <summary>Names go out as they were in the header: non-ASCII again RFC 2047-encoded.</summary>
    private static string Phrase(string name) =>
        name.All(char.IsAscii) ? name : Encoding.ASCII.GetString(Rfc2047.EncodePhrase(Encoding.UTF8, name));

    /// <summary>BODYSTRUCTURE (with extension data) or BODY (without).</summary>
    public void WriteBodyStructure(ImapResponseWriter w, bool extensions) => WriteBody(w, Message.Body, extensions);

    private void WriteBody(ImapResponseWriter w, MimeEntity? entity, bool ext)
    {
        if (entity is null)
        {
            w.Raw("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"u8);
            return;
        }
        var ct = entity.ContentType;
        if (entity is Multipart mp)
        {
            w.Raw("("u8);
            foreach (var child in mp) WriteBody(w, child, ext);
            if (mp.Count == 0) WriteBody(w, null, ext);
            w.Raw(" "u8).String(ct.MediaSubtype.ToLowerInvariant());
            if (ext)
            {
                w.Raw(" "u8);
                WriteParams(w, ct);
                w.Raw(" "u8);
                WriteDisposition(w, entity);
                w.Raw(" NIL NIL"u8);
            }
            w.Raw(")"u8);
            return;
        }
        var (_, he, end) = OffsetsOf(entity);
        var content = Data.AsSpan((int)Math.Min(he, Data.Length), (int)Math.Max(0, Math.Min(end, Data.Length) - he));
        w.Raw("("u8).String(ct.MediaType.ToLowerInvariant()).Raw(" "u8).String(ct.MediaSubtype.ToLowerInvariant()).Raw(" "u8);
        WriteParams(w, ct, defaultCharset: ct.IsMimeType("text", "*"));
        w.Raw(" "u8).NString(RawHeader(entity.Headers, HeaderId.ContentId));
        w.Raw(" "u8).NString(RawHeader(entity.Headers, HeaderId.ContentDescription));
        w.Raw(" "u8).String(RawHeader(entity.Headers, HeaderId.ContentTransferEncoding)?.ToLowerInvariant() ?? "7bit");
        w.Raw(" "u8).Number(content.Length);
        if (entity is MessagePart { Message: { } inner } && ct.IsMimeType("message", "rfc822"))
        {
            w.Raw(" "u8);
            WriteEnvelope(w, inner);
            w.Raw(" "u8);
            WriteBody(w, inner.Body, ext);
            w.Raw(" "u8).Number(Lines(content));
        }
        else if (ct.IsMimeType("text", "*"))
        {
            w.Raw(" "u8).Number(Lines(content));
        }
        if (ext)
        {
            w.Raw(" NIL "u8);
            WriteDisposition(w, entity);
            w.Raw(" NIL NIL"u8);
        }
        w.Raw(")"u8);
    }

    private static int Lines(ReadOnlySpan<byte> content)
    {
        int n = content.Count((byte)'\n');
        return content.Length > 0 && content[^1] != (byte)'\n' ? n + 1 : n;
    }

    private static void WriteParams(ImapResponseWriter w, ContentType ct, bool defaultCharset = false)
    {
        var pairs = ct.Parameters.Select(p => (p.Name.ToLowerInvariant(), p.Value)).ToList();
        if (defaultCharset && !pairs.Any(p => p.Item1 == "charset")) pairs.Insert(0, ("charset", "us-ascii"));
        if (pairs.Count == 0) { w.Raw("NIL"u8); return; }
        w.Raw("("u8);
        for (int i = 0; i < pairs.Count; i++)
        {
            if (i > 0) w.Raw(" "u8);
            w.String(pairs[i].Item1).Raw(" "u8).String(pairs[i].Value);
        }
        w.Raw(")"u8);
    }

    private static void WriteDisposition(ImapResponseWriter w, MimeEntity entity)
    {
        if (entity.ContentDisposition is not { } cd) { w.Raw("NIL"u8); return; }
        w.Raw("("u8).String(cd.Disposition.ToLowerInvariant()).Raw(" "u8);
        if (cd.Parameters.Count == 0) w.Raw("NIL"u8);
        else
        {
            w.Raw("("u8);
            bool first = true;
            foreach (var p in cd.Parameters)
            {
                if (!first) w.Raw(" "u8);
                first = false;
                w.String(p.Name.ToLowerInvariant()).Raw(" "u8).String(p.Value);
            }
            w.Raw(")"u8);
        }
        w.Raw(")"u8);
    }
}
