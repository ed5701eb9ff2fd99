using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Queue;
using Posthorn.Mail.Rewrite;

namespace Posthorn.Mail.Cleanup;

/// <summary>cleanup(8): canonicalizes a message on its way into the queue, around a <see cref="QueueFileWriter"/>.</summary>
/// <remarks>
/// Standards: RFC 5322 (header fields, Date:, Message-ID:), RFC 5321 §6.3 (loop detection).
/// Postfix cleanup(8): adds Message-Id:, Date: and From: when missing; qualifies addresses in
/// envelope and headers (append_at_myorigin); counts Received: headers against hopcount_limit;
/// with sendmail -t, takes recipients from To:/Cc:/Bcc: and removes Bcc:; applies header_checks,
/// mime_header_checks, nested_header_checks and body_checks (<see cref="ContentChecks"/>); rewrites envelope and
/// header addresses (canonical, masquerading, virtual aliases, automatic BCC: <see cref="AddressRewriter"/>).
/// Streaming (STYLE C10): only the header section is held in memory, at most
/// header_size_limit bytes; the body goes straight to the queue file.
/// Security: the content is untrusted (SMTP clients, local users); every buffer is bounded.
/// Parameters: myorigin, myhostname, append_at_myorigin, header_size_limit, hopcount_limit,
/// local_header_rewrite_clients, always_add_missing_headers, and those of <see cref="RewriteSettings"/> and
/// <see cref="ContentChecks"/>.
/// Logs: <c>ID: message-id=&lt;…&gt;</c>, <c>ID: reject: header …</c> and the other content actions (postfix/cleanup).
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
        _rewriter = options.Rewrite.IsEmpty ? null : new AddressRewriter(options.Rewrite);
    }

    private readonly AddressRewriter? _rewriter;

    public QueueId Id { get; }

    /// <summary>The envelope sender, when known before the content (MAIL FROM, the maildrop
    /// file): needed to add a From: header to a message that has none.</summary>
    public SmtpPath? Sender { get; init; }

    /// <summary>sendmail -F (or the passwd full name): the phrase of an added From: header.</summary>
    public string? SenderFullName { get; init; }

    /// <summary>Postfix's log origin, <c>host[address]</c> of the SMTP client, or <c>local</c>.</summary>
    public string LogOrigin { get; init; } = "local";

    /// <summary>ESMTP or SMTP for smtpd mail (the log's <c>proto=</c>); null for local submission.</summary>
    public string? Protocol { get; init; }

    /// <summary>The client's HELO name (the log's <c>helo=</c>), or null.</summary>
    public string? Helo { get; init; }

    /// <summary>The envelope recipients known while the content arrives (smtpd's live list), for the log's <c>to=</c>.</summary>
    public IReadOnlyList<SmtpPath>? EnvelopeRecipients { get; init; }

    /// <summary>PREPEND, REDIRECT, FILTER and HOLD requests from smtpd's access tables and from the content checks.</summary>
    public CleanupActions Actions { get; init; } = new();

    /// <summary>A content check said DISCARD: <see cref="CommitAsync"/> stores nothing, and the caller still
    /// reports success (Postfix: "Claim successful delivery and silently discard the message").</summary>
    public bool Discarded { get; private set; }

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
            await WriteBodyAsync(lines, ct).ConfigureAwait(false);
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
            await WriteBodyAsync(lines[pos..], ct).ConfigureAwait(false);
    }

    private ValueTask WriteBodyAsync(ReadOnlyMemory<byte> lines, CancellationToken ct) =>
        _options.Checks.InspectsBody && !Discarded ? WriteBodyCheckedAsync(lines, ct) : _inner.WriteAsync(lines, ct);

    /// <summary>Finishes the content, qualifies the envelope, adds the recipients found by
    /// sendmail -t, and commits the queue file (see <see cref="QueueFileWriter.CommitAsync"/>).</summary>
    /// <exception cref="CleanupRejectedException">The message is refused (nothing is queued).</exception>
    /// <exception cref="IOException">The queue file could not be made durable (reply 451 4.3.0).</exception>
    public async ValueTask CommitAsync(QueueEnvelope env, CancellationToken ct)
    {
        if (_inHeader && Rejection is null)
            await FinishHeadersAsync(needSeparator: true, ct).ConfigureAwait(false);   // content was all header, or empty
        if (Rejection is { } refused) throw new CleanupRejectedException(refused);

        // Postfix DISCARD: nothing is stored; disposing this writer removes the temporary file.
        if (Discarded) return;

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
        var sender = Qualify(env.Sender, _options);
        if (_rewriter is not null)
        {
            try
            {
                var (newSender, rewritten) = EnvelopeRewriter.Rewrite(_rewriter, sender.ToString(), recipients);
                sender = SmtpPath.FromAddress(newSender);
                recipients = rewritten;
            }
            catch (RewriteDeferredException e)
            {
                _log.CleanupDeferred(Id, e.Message);
                var refusal = e.Message.StartsWith("unreasonable virtual", StringComparison.Ordinal)
                    ? CleanupReplies.ServiceUnavailable : CleanupReplies.WriteError;
                Rejection = refusal;
                throw new CleanupRejectedException(refusal);
            }
        }
        var attributes = env.Attributes;
        if (Actions.Redirect is { } redirect)
        {
            // DEVIATION: Postfix stores the redirect in the queue file and qmgr applies it at delivery; Posthorn
            // replaces the recipients here, each keeping its original address (orig_to=).
            string target = Qualify(SmtpPath.FromAddress(redirect), _options).ToString();
            recipients = [.. recipients.Select(r => new QueueRecipient(target, r.OriginalRecipient ?? r.Address)).Take(1)];
        }
        // postconf(5) content_filter: "This setting has a lower precedence than a content FILTER action that is
        // specified in an access(5), header_checks(5) or body_checks(5) table."
        if ((Actions.Filter ?? (_options.ContentFilter.Length > 0 ? _options.ContentFilter : null)) is { } filter)
        {
            attributes = new Dictionary<string, string>(attributes, StringComparer.Ordinal) { [ContentFilterAttribute] = filter };
        }
        // Postfix HOLD (access(5), header_checks(5)): the file is published in hold instead of incoming.
        if (Actions.Hold) _inner.Target = QueueName.Hold;
        var final = env with { Sender = sender, Recipients = recipients, Attributes = attributes };
        await _inner.CommitAsync(final, ct).ConfigureAwait(false);
    }

    /// <summary>The queue-file attribute that holds a FILTER action's <c>transport:destination</c>.</summary>
    public const string ContentFilterAttribute = "content_filter";

    /// <summary>Postfix trivial-rewrite with append_at_myorigin: <c>root</c> becomes
    /// <c>root@$myorigin</c>; a qualified address and the null sender stay as they are.</summary>
    public static SmtpPath Qualify(SmtpPath p, CleanupOptions o) =>
        p.IsNull || p.IsQualified || !o.AppendAtMyOrigin ? p : p.WithDomain(o.MyOrigin);

    /// <summary>Without a commit, the inner writer deletes its temporary file.</summary>
    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
