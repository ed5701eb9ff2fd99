using System.Globalization;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Queue;

namespace Posthorn.Mail.Cleanup;

/// <summary>pickup(8): moves one locally submitted message from <c>maildrop</c> through cleanup
/// into <c>incoming</c>.</summary>
/// <remarks>
/// Postfix pickup(8): the maildrop file is removed only after cleanup has committed the new
/// queue file, so a crash in between delivers the message at most twice, never zero times.
/// The new file gets a new queue ID, as with Postfix (cleanup allocates it).
/// Security: maildrop files come from local users and are untrusted; cleanup sanitizes them.
/// Logs: <c>ID: uid=N from=&lt;sender&gt;</c> (postfix/pickup), then cleanup's lines.
/// </remarks>
public static class Pickup
{
    /// <summary>Processes one maildrop file. Returns the new queue ID, or null when there is
    /// nothing to queue: the file is gone (another pickup took it), corrupt (moved to
    /// <c>corrupt</c>), or refused by cleanup (removed, with a warning).</summary>
    /// <exception cref="IOException">The incoming file could not be written; the maildrop file stays for a retry.</exception>
    public static async Task<QueueId?> ProcessAsync(QueueDirectory dir, QueueId maildropId, CleanupOptions options,
        QueueIdGenerator ids, TimeProvider clock, MailLog log, CancellationToken ct)
    {
        string path = dir.PathOf(QueueName.Maildrop, maildropId);
        QueuedMessage dropped;
        try
        {
            dropped = QueueFile.Read(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (QueueFileCorruptException e)
        {
            log.Warning("pickup", $"{maildropId}: {e.Problem}: moved to the corrupt queue");
            dir.Move(maildropId, QueueName.Maildrop, QueueName.Corrupt);
            return null;
        }

        var env = dropped.Envelope;
        env.Attributes.TryGetValue(QueueEnvelope.UidAttribute, out string? uidText);
        uint uid = uint.TryParse(uidText, NumberStyles.None, CultureInfo.InvariantCulture, out uint u) ? u : 0;
        bool extract = env.Attributes.TryGetValue(QueueEnvelope.ExtractRecipientsAttribute, out string? x) && x == "yes";
        env.Attributes.TryGetValue(QueueEnvelope.SenderFullNameAttribute, out string? fullName);

        var id = ids.Next();
        log.PickupReceived(id, uid, env.Sender.ToString());
        var attributes = new Dictionary<string, string>(env.Attributes, StringComparer.Ordinal)
        {
            [QueueEnvelope.RewriteContextAttribute] = "local",
        };
        attributes.Remove(QueueEnvelope.ExtractRecipientsAttribute);   // done by this cleanup pass
        var cleanupOptions = options with { LocalHeaderRewrite = true, ExtractRecipients = extract };

        await using (var cleanup = new CleanupWriter(QueueFileWriter.Create(dir, id, QueueName.Incoming), id, cleanupOptions, clock, log)
        {
            Sender = env.Sender,
            SenderFullName = fullName,
        })
        {
            await using (var content = dropped.OpenContent())
            {
                await CopyLinesAsync(content, cleanup, ct).ConfigureAwait(false);
            }
            try
            {
                await cleanup.CommitAsync(env with { Attributes = attributes }, ct).ConfigureAwait(false);
            }
            catch (CleanupRejectedException e)
            {
                // DEVIATION: Postfix bounces a refused local submission to the sender; Posthorn logs and drops it.
                log.Warning("pickup", $"{maildropId}: message refused: {e.Reply}: removed");
                dir.Remove(maildropId, QueueName.Maildrop);
                return null;
            }
        }
        // Only now, with the incoming file durable, may the maildrop file go.
        dir.Remove(maildropId, QueueName.Maildrop);
        return id;
    }

    private const int MaxLine = 1024 * 1024;

    /// <summary>Feeds cleanup whole lines, a buffer at a time; a last line without LF gets one.</summary>
    private static async Task CopyLinesAsync(Stream content, CleanupWriter cleanup, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        int filled = 0;
        while (true)
        {
            int n = await content.ReadAsync(buffer.AsMemory(filled), ct).ConfigureAwait(false);
            if (n == 0) break;
            filled += n;
            int lastNl = buffer.AsSpan(0, filled).LastIndexOf((byte)'\n');
            if (lastNl < 0)
            {
                if (filled < buffer.Length) continue;
                if (buffer.Length < MaxLine)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);   // a long line: grow, up to MaxLine
                    continue;
                }
                lastNl = filled - 1;   // longer than MaxLine: pass it on in pieces, as the body it must be
            }
            await cleanup.WriteAsync(buffer.AsMemory(0, lastNl + 1), ct).ConfigureAwait(false);
            filled -= lastNl + 1;
            buffer.AsSpan(lastNl + 1, filled).CopyTo(buffer);
        }
        if (filled > 0)
        {
            if (filled == buffer.Length) Array.Resize(ref buffer, filled + 1);
            buffer[filled] = (byte)'\n';
            await cleanup.WriteAsync(buffer.AsMemory(0, filled + 1), ct).ConfigureAwait(false);
        }
    }
}
