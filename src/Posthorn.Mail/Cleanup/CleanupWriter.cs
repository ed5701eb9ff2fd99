using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Queue;

namespace Posthorn.Mail.Cleanup;

/// <summary>cleanup(8): canonicalizes a message on its way into the queue, around a <see cref="QueueFileWriter"/>.</summary>
/// <remarks>
/// Standards: RFC 5322 (header fields, Date:, Message-ID:), RFC 5321 §6.3 (loop detection).
/// Postfix cleanup(8): adds Message-Id:, Date: and From: when missing; qualifies addresses in
/// envelope and headers (append_at_myorigin); counts Received: headers against hopcount_limit;
/// with sendmail -t, takes recipients from To:/Cc:/Bcc: and removes Bcc:.
/// Streaming (STYLE C10): only the header section is held in memory, at most
/// header_size_limit bytes; the body goes straight to the queue file.
/// Security: the content is untrusted (SMTP clients, local users); every buffer is bounded.
/// Parameters: myorigin, myhostname, append_at_myorigin, header_size_limit, hopcount_limit,
/// local_header_rewrite_clients, always_add_missing_headers.
/// Logs: <c>ID: message-id=&lt;…&gt;</c> (postfix/cleanup).
/// </remarks>
public sealed partial class CleanupWriter : IAsyncDisposable
{
    private readonly QueueFileWriter _inner;
    private readonly CleanupOptions _options;
    private readonly TimeProvider _clock;
    private readonly MailLog _log;
    private readonly List<HeaderField> _headers = [];
    private readonly List<string> _extracted = [];
    private long _headerBytes;
    private bool _inHeader = true;

    public CleanupWriter(QueueFileWriter inner, QueueId id, CleanupOptions options, TimeProvider clock, MailLog log)
    {
        _inner = inner;
        Id = id;
        _options = options;
        _clock = clock;
        _log = log;
    }

    public QueueId Id { get; }

    /// <summary>The envelope sender, when known before the content (MAIL FROM, the maildrop
    /// file): needed to add a From: header to a message that has none.</summary>
    public SmtpPath? Sender { get; init; }

    /// <summary>sendmail -F (or the passwd full name): the phrase of an added From: header.</summary>
    public string? SenderFullName { get; init; }

    /// <summary>Set once the message is refused (too many hops); later content is discarded and
    /// <see cref="CommitAsync"/> throws <see cref="CleanupRejectedException"/>.</summary>
    public SmtpReply? Rejection { get; private set; }

    /// <summary>Message content bytes written to the queue file so far.</summary>
    public long ContentLength => _inner.ContentLength;

    /// <summary>Takes complete LF-terminated lines (any number per call). The header section is
    /// buffered until it ends (empty line, a line that is not a header, or header_size_limit);
    /// then the processed headers are written and the rest streams through.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> lines, CancellationToken ct)
    {
        if (Rejection is not null) return;   // refused: drain without storing
        if (!_inHeader)
        {
            await _inner.WriteAsync(lines, ct).ConfigureAwait(false);
            return;
        }
        int pos = 0;
        while (pos < lines.Length)
        {
            var rest = lines.Span[pos..];
            int nl = rest.IndexOf((byte)'\n');
            int length = nl < 0 ? rest.Length : nl + 1;
            var line = rest[..length];
            bool empty = line.SequenceEqual("\n"u8) || line.SequenceEqual("\r\n"u8);
            if (empty)
            {
                // RFC 5322 §2.1: an empty line ends the header section; it is written with the headers.
                await FinishHeadersAsync(needSeparator: true, ct).ConfigureAwait(false);
                pos += length;
                break;
            }
            if (_headerBytes + length > _options.HeaderSizeLimit)
            {
                // Postfix header_size_limit: what does not fit is body, never unbounded memory.
                await FinishHeadersAsync(needSeparator: true, ct).ConfigureAwait(false);
                break;
            }
            if (line[0] is (byte)' ' or (byte)'\t' && _headers.Count > 0)
            {
                // RFC 5322 §2.2.3: a continuation line of the previous field.
                var last = _headers[^1];
                last.Raw = [.. last.Raw, .. line];
            }
            else if (HeaderField.TryParseName(line, out string name))
            {
                _headers.Add(new HeaderField(name, line.ToArray()));
            }
            else
            {
                // Not a header line: the header section ended without an empty line. Posthorn
                // inserts one, so the added headers stay headers and this line stays body.
                await FinishHeadersAsync(needSeparator: true, ct).ConfigureAwait(false);
                break;
            }
            _headerBytes += length;
            pos += length;
        }
        if (pos < lines.Length && Rejection is null)
            await _inner.WriteAsync(lines[pos..], ct).ConfigureAwait(false);
    }

    /// <summary>Finishes the content, qualifies the envelope, adds the recipients found by
    /// sendmail -t, and commits the queue file (see <see cref="QueueFileWriter.CommitAsync"/>).</summary>
    /// <exception cref="CleanupRejectedException">The message is refused (nothing is queued).</exception>
    /// <exception cref="IOException">The queue file could not be made durable (reply 451 4.3.0).</exception>
    public async ValueTask CommitAsync(QueueEnvelope env, CancellationToken ct)
    {
        if (_inHeader && Rejection is null)
            await FinishHeadersAsync(needSeparator: true, ct).ConfigureAwait(false);   // content was all header, or empty
        if (Rejection is { } refused) throw new CleanupRejectedException(refused);

        var recipients = new List<QueueRecipient>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var r in env.Recipients)
        {
            string qualified = Qualify(SmtpPath.FromAddress(r.Address), _options).ToString();
            // Postfix logs orig_to= when rewriting changed the address.
            string? original = r.OriginalRecipient ?? (qualified == r.Address ? null : r.Address);
            recipients.Add(r with { Address = qualified, OriginalRecipient = original });
            seen.Add(qualified);
        }
        foreach (string address in _extracted)
        {
            if (seen.Add(address)) recipients.Add(new QueueRecipient(address));
        }
        if (recipients.Count == 0)
        {
            Rejection = CleanupReplies.NoRecipients;
            throw new CleanupRejectedException(CleanupReplies.NoRecipients);
        }
        var final = env with { Sender = Qualify(env.Sender, _options), Recipients = recipients };
        await _inner.CommitAsync(final, ct).ConfigureAwait(false);
    }

    /// <summary>Postfix trivial-rewrite with append_at_myorigin: <c>root</c> becomes
    /// <c>root@$myorigin</c>; a qualified address and the null sender stay as they are.</summary>
    public static SmtpPath Qualify(SmtpPath p, CleanupOptions o) =>
        p.IsNull || p.IsQualified || !o.AppendAtMyOrigin ? p : p.WithDomain(o.MyOrigin);

    /// <summary>Without a commit, the inner writer deletes its temporary file.</summary>
    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
