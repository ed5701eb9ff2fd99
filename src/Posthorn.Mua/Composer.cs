using MimeKit;

namespace Posthorn.Mua;

/// <summary>What the user asked to send: header addresses, subject, body, attachments.</summary>
public sealed record Draft(
    IReadOnlyList<string> To,
    IReadOnlyList<string> Cc,
    IReadOnlyList<string> Bcc,
    string? Subject,
    string Body,
    IReadOnlyList<string> Attachments,
    string? From = null,
    string? InReplyTo = null,
    IReadOnlyList<string>? References = null);

/// <summary>Builds the MIME message for a <see cref="Draft"/> with MimeKit and hands it to
/// <see cref="MuaContext.Submit"/>: every To/Cc/Bcc address is an envelope recipient, Bcc never
/// appears in the message (RFC 5322 §3.6.3).</summary>
public static class Composer
{
    /// <summary>Builds the message. Attachments are read when the message is written.</summary>
    /// <exception cref="ParseException">an address does not parse.</exception>
    public static MimeMessage Build(Draft d, string defaultFrom, DateTimeOffset now)
    {
        var msg = new MimeMessage();
        msg.From.Add(MailboxAddress.Parse(d.From ?? defaultFrom));
        foreach (string a in d.To) msg.To.Add(MailboxAddress.Parse(a));
        foreach (string a in d.Cc) msg.Cc.Add(MailboxAddress.Parse(a));
        foreach (string a in d.Bcc) _ = MailboxAddress.Parse(a);   // checked here, used only in the envelope
        // RFC 2047: MimeKit encodes a non-ASCII subject as UTF-8 encoded-words.
        if (d.Subject is not null) msg.Subject = d.Subject;
        msg.Date = now;
        if (d.InReplyTo is not null) msg.InReplyTo = d.InReplyTo;
        foreach (string r in d.References ?? []) msg.References.Add(r);

        var text = new TextPart("plain");
        text.SetText("utf-8", d.Body);
        text.ContentTransferEncoding = text.GetBestEncoding(EncodingConstraint.SevenBit);
        if (d.Attachments.Count == 0)
        {
            msg.Body = text;
            return msg;
        }
        var mixed = new Multipart("mixed") { text };
        foreach (string path in d.Attachments)
        {
            // MimeTypes maps the extension; unknown ones are application/octet-stream.
            var part = new MimePart(MimeTypes.GetMimeType(path))
            {
                Content = new MimeContent(File.OpenRead(path)),
                ContentDisposition = new ContentDisposition(ContentDisposition.Attachment),
                ContentTransferEncoding = ContentEncoding.Base64,
                FileName = Path.GetFileName(path),
            };
            mixed.Add(part);
        }
        msg.Body = mixed;
        return msg;
    }

    /// <summary>Writes the message to a temporary file (attachments may be large) and submits it;
    /// returns the submitter's exit status.</summary>
    public static int Send(MuaContext ctx, Draft d)
    {
        var msg = Build(d, ctx.UserName, ctx.Clock.GetLocalNow());
        var recipients = d.To.Concat(d.Cc).Concat(d.Bcc).Select(a => MailboxAddress.Parse(a).Address).ToList();
        using var temp = new FileStream(Path.GetTempFileName(), FileMode.Open, FileAccess.ReadWrite, FileShare.None, 64 * 1024, FileOptions.DeleteOnClose);
        try
        {
            msg.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Unix }, temp);
        }
        finally
        {
            foreach (var part in msg.BodyParts.OfType<MimePart>()) part.Content?.Stream?.Dispose();
        }
        temp.Position = 0;
        string? sender = d.From is null ? null : MailboxAddress.Parse(d.From).Address;
        return ctx.Submit(sender, recipients, temp);
    }
}
