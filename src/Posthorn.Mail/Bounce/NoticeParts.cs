using System.Text;
using MimeKit;
using Posthorn.Core;
using Posthorn.Mail.Queue;

namespace Posthorn.Mail.Bounce;

/// <summary>The pieces every notice bounce(8) sends shares: the template's closing paragraph, the original
/// header as a text/rfc822-headers part, and the queueing of the finished notice.</summary>
/// <remarks>Used by <see cref="DsnWriter"/> (failure and success notices) and <see cref="NoticeBuilder"/>
/// (delay warnings and postmaster copies).</remarks>
internal static class NoticeParts
{
    /// <summary>Postfix bounce.cf.default: the paragraph that ends the failure and delay templates.</summary>
    public static StringBuilder AppendClosing(StringBuilder sb, string mailName) => sb
        .Append("For further assistance, please send mail to postmaster.\n\n")
        .Append("If you do so, please include this problem report. You can\n")
        .Append("delete your own text from the attached returned message.\n\n")
        .Append("                   The ").Append(mailName).Append(" program\n\n");

    /// <summary>RFC 6522 §4: text/rfc822-headers, the header of the original message only.</summary>
    public static TextRfc822Headers HeadersPart(QueuedMessage original, string description)
    {
        var headers = new TextRfc822Headers { Message = MimeMessage.Load(new MemoryStream(ReadHeaders(original))) };
        headers.Headers[HeaderId.ContentDescription] = description;
        return headers;
    }

    /// <summary>The original header, up to the empty line (bounded: a header without an end stops at 1 MB).</summary>
    private static byte[] ReadHeaders(QueuedMessage original)
    {
        using var content = original.OpenContent();
        using var reader = new StreamReader(content, Encoding.UTF8);
        var sb = new StringBuilder();
        string? line;
        while ((line = reader.ReadLine()) is { Length: > 0 } && sb.Length < 1_000_000) sb.Append(line).Append('\n');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>Queues <paramref name="notice"/> as message <paramref name="id"/> in incoming/ from
    /// <paramref name="sender"/> to <paramref name="recipient"/> (LF line ends, like every queue file).</summary>
    public static async Task QueueAsync(QueueDirectory queue, QueueId id, MimeMessage notice, SmtpPath sender, SmtpPath recipient,
        DateTimeOffset arrival, CancellationToken ct)
    {
        var bytes = new MemoryStream();
        await notice.WriteToAsync(new FormatOptions { NewLineFormat = NewLineFormat.Unix }, bytes, ct).ConfigureAwait(false);
        await using var writer = QueueFileWriter.Create(queue, id, QueueName.Incoming);
        await writer.WriteAsync(bytes.GetBuffer().AsMemory(0, (int)bytes.Length), ct).ConfigureAwait(false);
        await writer.CommitAsync(new QueueEnvelope(sender, [new QueueRecipient(recipient.ToString())], arrival), ct).ConfigureAwait(false);
    }
}
