using Microsoft.Win32.SafeHandles;

namespace Posthorn.Mail.Queue;

/// <summary>A read-only window [offset, offset+length) of a queue file: the message content.</summary>
internal sealed class ContentStream(SafeFileHandle file, long offset, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => _position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset_, int count) => Read(buffer.AsSpan(offset_, count));

    public override int Read(Span<byte> buffer)
    {
        long left = length - _position;
        if (left <= 0 || buffer.IsEmpty) return 0;
        if (buffer.Length > left) buffer = buffer[..(int)left];
        int n = RandomAccess.Read(file, buffer, offset + _position);
        _position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        long left = length - _position;
        if (left <= 0 || buffer.IsEmpty) return 0;
        if (buffer.Length > left) buffer = buffer[..(int)left];
        int n = await RandomAccess.ReadAsync(file, buffer, offset + _position, cancellationToken).ConfigureAwait(false);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset_, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset_, count), cancellationToken).AsTask();

    public override long Seek(long delta, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => delta,
            SeekOrigin.Current => _position + delta,
            SeekOrigin.End => length + delta,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return _position;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset_, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) file.Dispose();
        base.Dispose(disposing);
    }
}
