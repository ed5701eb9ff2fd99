using System.Buffers;
using Microsoft.Win32.SafeHandles;
using Posthorn.Core;

namespace Posthorn.Mail.Queue;

/// <summary>Writes one new queue file: content streams in as it arrives, the envelope and the
/// durable publication come at <see cref="CommitAsync"/> (DESIGN.md decision 3, STYLE C10/C11).</summary>
/// <remarks>
/// The file grows in the queue's <c>tmp</c> area, on the same file system as the queues, mode
/// 0600. Nothing is visible in a queue until the commit has renamed it there. Disposing without
/// a commit deletes the temporary file: a dropped connection leaves nothing behind.
/// Not thread-safe: one writer per message.
/// </remarks>
public sealed class QueueFileWriter : IAsyncDisposable
{
    private const int BufferSize = 64 * 1024;

    private readonly QueueDirectory _dir;
    private readonly string _tempPath;
    private readonly bool _reused;   // a spent queue file (QueueDirectory.RecycleSpentFiles): its old tail is cut at the commit
    private SafeFileHandle? _file;   // no FileStream: its set-up and teardown added an lseek(2) and an fstat(2) per message
    // The file's bytes not yet written, from the shared pool (a FileStream's own 64 KiB buffer was a new array per
    // message: a quarter of all the bytes the daemon allocated under SMTP load); _flushed bytes are in the file.
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _used;
    private long _flushed;
    private bool _committed;
    private GroupCommit.Request? _commit;   // handed to the group commit; the file stays open until it completes

    private QueueFileWriter(QueueDirectory dir, QueueId id, QueueName target, string tempPath, SafeFileHandle file, bool reused)
    {
        _dir = dir;
        _reused = reused;
        Id = id;
        Target = target;
        _tempPath = tempPath;
        _file = file;
    }

    public QueueId Id { get; }

    /// <summary>The queue <see cref="CommitAsync"/> publishes the file in: incoming; active when the queue manager of
    /// this process has taken the message before its commit (QmgrService.TryAdmit); hold when cleanup or an access
    /// table said HOLD (Postfix access(5)/header_checks(5) HOLD: "Arrange for the message to be placed on the hold
    /// queue"). May change until the commit; afterwards it is ignored.</summary>
    public QueueName Target { get; set; }

    /// <summary>Whether the file was renamed into <see cref="Target"/>, also when the directory fsync after it failed
    /// (the commit then threw and the message may still be delivered). Final once <see cref="DisposeAsync"/> returned.</summary>
    public bool Published => _committed;

    /// <summary>Bytes of message content written so far.</summary>
    public long ContentLength { get; private set; }

    /// <summary>Starts a queue file for <paramref name="id"/> that <see cref="CommitAsync"/> will
    /// publish in <paramref name="target"/>.</summary>
    /// <exception cref="IOException">The queue is not writable (callers reply 451 4.3.0 / exit EX_TEMPFAIL).</exception>
    public static QueueFileWriter Create(QueueDirectory dir, QueueId id, QueueName target)
    {
        string? spent = dir.TakeSpentFile();
        if (spent is not null)
        {
            try
            {
                return Start(dir, id, target, spent, FileMode.Open);
            }
            catch (IOException)
            {
                // Deleted behind the pool's back (postsuper, an administrator): a new file below.
            }
            catch (UnauthorizedAccessException)
            {
                // Not this process's to write (a file an administrator's tool left in active/): never reused.
                try { File.Delete(spent); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        return Start(dir, id, target, Path.Combine(dir.TempDirectory, $"{id.Value}.{Guid.NewGuid():N}"), FileMode.CreateNew);
    }

    private static QueueFileWriter Start(QueueDirectory dir, QueueId id, QueueName target, string tempPath, FileMode mode)
    {
        // Not FileShare.None: .NET turns that into flock(LOCK_EX) on Linux where its emulation is on (the tests' host), and
        // the file stays open until the group commit has published it, so qmgr's reader (flock LOCK_SH) would be refused a
        // file that is already in incoming/. The temporary name is unique: nobody else opens it before the rename.
        var file = mode == FileMode.CreateNew ? CreateNew(tempPath) : File.OpenHandle(tempPath, mode, FileAccess.ReadWrite, FileShare.ReadWrite);
        var writer = new QueueFileWriter(dir, id, target, tempPath, file, reused: mode == FileMode.Open);
        // The header's lengths are not known yet; a placeholder holds its place.
        writer.Append(QueueFileFormat.EncodeHeader(0, 0));
        return writer;
    }

    /// <summary>open(2) with O_CREAT | O_EXCL and mode 0600 (File.OpenHandle cannot give a creation mode).</summary>
    private static SafeFileHandle CreateNew(string path)
    {
        int fd = Delivery.LibC.Open(path, Delivery.LibC.O_RDWR | Delivery.LibC.O_CREAT | Delivery.LibC.O_EXCL | Delivery.LibC.O_NOFOLLOW,
            0x180 /* 0600 */, out int errno);
        if (fd < 0) throw new IOException($"create {path}: {Delivery.LibC.StrError(errno)}", errno);
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Adds bytes after those written so far; a full buffer goes to the file with pwrite(2).</summary>
    private void Append(ReadOnlySpan<byte> bytes)
    {
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(QueueFileWriter));
        while (!bytes.IsEmpty)
        {
            if (_used == buffer.Length) Flush(buffer);
            int n = Math.Min(bytes.Length, buffer.Length - _used);
            bytes[..n].CopyTo(buffer.AsSpan(_used));
            _used += n;
            bytes = bytes[n..];
        }
    }

    private void Flush(byte[] buffer)
    {
        RandomAccess.Write(_file!, buffer.AsSpan(0, _used), _flushed);
        _flushed += _used;
        _used = 0;
    }

    /// <summary>Appends message content: whole lines, LF line ends, no dot-stuffing.</summary>
    /// <remarks>A synchronous write into the writer's 64 KiB buffer: it reaches only the page cache, which
    /// costs less than the thread-pool hop of an asynchronous write to a file opened without O_ASYNC.</remarks>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> content, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        Append(content.Span);
        ContentLength += content.Length;
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes the envelope and makes the file durable in its queue. Only after this
    /// returns may smtpd say <c>250 2.0.0 Ok: queued as ID</c>.</summary>
    /// <exception cref="IOException">Nothing was published (disk full, I/O error, or a file with
    /// this queue ID already exists, which is never overwritten); reply 451 4.3.0.</exception>
    public async ValueTask CommitAsync(QueueEnvelope envelope, CancellationToken ct)
    {
        var file = _file ?? throw new ObjectDisposedException(nameof(QueueFileWriter));
        if (_commit is not null) throw new InvalidOperationException("the queue file was already handed to the commit");
        byte[] records = QueueFileFormat.EncodeEnvelope(envelope);
        Append(records);
        byte[] header = QueueFileFormat.EncodeHeader(ContentLength, records.Length);
        var buffer = _buffer!;
        bool headerInBuffer = _flushed == 0;   // a message under 64 KiB: the placeholder was never written
        if (headerInBuffer) header.CopyTo(buffer, 0);
        Flush(buffer);
        if (!headerInBuffer) RandomAccess.Write(file, header, 0);
        if (_reused) RandomAccess.SetLength(file, _flushed);   // the rest of the spent message

        // The group commit (GroupCommit.cs) makes it durable with the files of other writers: fsync(2) of
        // the file (content, envelope and header) before any name points to it, rename(2) into the target
        // queue without replacing an existing file (from then on the message exists for qmgr), and fsync(2)
        // of the target directory. Each step's failure fails this commit; a file renamed before its
        // directory fsync failed stays, and may be delivered, which at-least-once allows.
        var request = new GroupCommit.Request(file, _tempPath, _dir.PathOf(Target, Id), _dir.SyncOf(Target));
        _commit = request;
        await _dir.Commits.CommitAsync(request).WaitAsync(ct).ConfigureAwait(false);
        await CloseAsync().ConfigureAwait(false);
    }

    /// <summary>Waits for a commit handed over (it may still run after a cancelled wait), then closes the file.</summary>
    private async ValueTask CloseAsync()
    {
        if (_commit is { } commit)
        {
            // A failure was reported to CommitAsync's caller already (or its wait was cancelled): only the outcome counts here.
            await commit.Done.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _committed = commit.Renamed;
        }
        if (_file is { } file)
        {
            _file = null;
            file.Dispose();
        }
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Without a commit: closes and deletes the temporary file.</summary>
    public async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        if (!_committed) File.Delete(_tempPath);
    }
}
