using Microsoft.Win32.SafeHandles;

namespace Posthorn.Mail.Queue;

/// <summary>Reads queue files and updates recipient status in place (format: <see cref="QueueFileFormat"/>).</summary>
public static class QueueFile
{
    /// <summary>Reads the envelope of the queue file at <paramref name="path"/>; the content stays on disk.</summary>
    /// <exception cref="QueueFileCorruptException">The file does not follow the format.</exception>
    /// <exception cref="FileNotFoundException">No such file (for example, qmgr moved it meanwhile).</exception>
    public static QueuedMessage Read(string path)
    {
        using var file = OpenShared(path, FileAccess.Read);
        var (envelope, contentLength, _, _) = ReadEnvelope(path, file, needOffsets: false);
        return new QueuedMessage(path, envelope, QueueFileFormat.HeaderLength, contentLength);
    }

    /// <summary>Marks recipient number <paramref name="recipientIndex"/> (an index into
    /// <see cref="QueueEnvelope.Recipients"/>) as done, durably.</summary>
    /// <remarks>
    /// Crash safety: the recipient's status byte is rewritten in place with one pwrite(2), then the
    /// file is fsync'd before this returns. A crash after MarkDone returns never delivers that
    /// recipient again; a crash before it may (at least once, DESIGN.md decision 3).
    /// </remarks>
    public static void MarkDone(string path, int recipientIndex) => MarkDone(path, recipientIndex, flush: true);

    /// <summary>As <see cref="MarkDone(string, int)"/>; with <paramref name="flush"/> false the status byte is
    /// written (it survives a SIGKILL of the daemon, being in the page cache) but not fsync'd: the caller makes
    /// the round's marks durable together with <see cref="Flush"/> before it files the message as deferred.
    /// A power loss before that may deliver those recipients again, which at-least-once allows.</summary>
    public static void MarkDone(string path, int recipientIndex, bool flush)
    {
        using var file = OpenShared(path, FileAccess.ReadWrite);
        var (envelope, _, envelopeOffset, statusOffsets) = ReadEnvelope(path, file, needOffsets: true);
        ArgumentOutOfRangeException.ThrowIfNegative(recipientIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(recipientIndex, envelope.Recipients.Count);
        if (envelope.Recipients[recipientIndex].Done) return;
        long at = envelopeOffset + statusOffsets![recipientIndex];
        RandomAccess.Write(file, [QueueFileFormat.StatusDone], at);   // pwrite(2): one byte
        if (flush) RandomAccess.FlushToDisk(file);                    // fsync(2) before we report done
    }

    /// <summary>fsync(2) of the queue file at <paramref name="path"/>: every status mark written so far is durable.</summary>
    public static void Flush(string path)
    {
        using var file = OpenShared(path, FileAccess.ReadWrite);
        RandomAccess.FlushToDisk(file);
    }

    /// <summary>A descriptor, not a FileStream: its set-up added an lseek(2) and an fstat(2) to every read.</summary>
    private static SafeFileHandle OpenShared(string path, FileAccess access) =>
        File.OpenHandle(path, FileMode.Open, access, FileShare.ReadWrite | FileShare.Delete);

    private static (QueueEnvelope Envelope, long ContentLength, long EnvelopeOffset, List<long>? StatusOffsets)
        ReadEnvelope(string path, SafeFileHandle handle, bool needOffsets)
    {
        long fileLength = RandomAccess.GetLength(handle);
        Span<byte> header = stackalloc byte[QueueFileFormat.HeaderLength];
        if (fileLength < QueueFileFormat.HeaderLength || RandomAccess.Read(handle, header, 0) != header.Length)
            throw new QueueFileCorruptException(path, "file shorter than its header");
        if (!QueueFileFormat.TryDecodeHeader(header, out long contentLength, out long envelopeLength))
            throw new QueueFileCorruptException(path, "bad file header");
        long envelopeOffset = QueueFileFormat.HeaderLength + contentLength;
        if (envelopeLength > int.MaxValue || envelopeOffset > fileLength || fileLength - envelopeOffset != envelopeLength)
            throw new QueueFileCorruptException(path, $"file length {fileLength} does not match its header");
        var envelopeBytes = new byte[envelopeLength];
        int got = 0;
        while (got < envelopeBytes.Length)
        {
            int n = RandomAccess.Read(handle, envelopeBytes.AsSpan(got), envelopeOffset + got);
            if (n == 0) throw new QueueFileCorruptException(path, "envelope truncated");
            got += n;
        }
        var offsets = needOffsets ? new List<long>() : null;
        var envelope = QueueFileFormat.DecodeEnvelope(path, envelopeBytes, offsets);
        return (envelope, contentLength, envelopeOffset, offsets);
    }
}
