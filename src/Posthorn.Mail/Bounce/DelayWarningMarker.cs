using Posthorn.Core;
using Posthorn.Mail.Queue;

namespace Posthorn.Mail.Bounce;

/// <summary>Whether a message's delayed-mail warning was sent: a small marker file <c>defer/ID.warned</c>
/// next to the defer log.</summary>
/// <remarks>
/// Postfix keeps this in the queue file (cleanup writes the warning time in a REC_TYPE_WARN record and
/// qmgr sets it to zero once the warning is sent, qmgr_message_update_warn()).
/// DEVIATION: Posthorn keeps a separate marker rather than a queue file record, so the queue file format is not
/// touched; qmgr deletes it when it removes the message, and <c>postsuper -d</c> when it deletes one.
/// The marker is written and fsynced before the warning counts as sent: a crash in between sends at most one
/// more warning, never none.
/// </remarks>
public static class DelayWarningMarker
{
    public static string PathOf(QueueDirectory queue, QueueId id) =>
        Path.Combine(queue.Root, QueueDirectory.DeferDirectoryName, id.Value + ".warned");

    public static bool Exists(QueueDirectory queue, QueueId id) => File.Exists(PathOf(queue, id));

    /// <summary>Records that the warning went out (created and flushed to disk).</summary>
    public static void Set(QueueDirectory queue, QueueId id)
    {
        using var file = new FileStream(PathOf(queue, id), new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        file.Flush(flushToDisk: true);
    }

    /// <summary>Deletes the marker; a missing one is not an error.</summary>
    public static void Remove(QueueDirectory queue, QueueId id) => Native.DeleteIfPresent(PathOf(queue, id));
}
