using System.Buffers.Binary;
using System.Text;

namespace Posthorn.Config.Tables;

/// <summary>The on-disk format of a compiled <c>hash:</c>/<c>btree:</c> table (<c>FILE.db</c>, written by
/// <c>postmap</c>): Posthorn's own, not Berkeley DB.</summary>
/// <remarks>
/// An on-disk hash table, so a lookup reads a few small pieces of the file and never the whole table.
/// All integers are little-endian.
/// <code>
/// header   (24 bytes)  magic "PHHASH1\n" · u32 flags (bit 0: keys folded to lower case) · u32 bucket count B
///                      (a power of two) · u32 entry count N · u32 reserved (0)
/// buckets  (8·B bytes) u64 offset of the first record of each bucket, 0 for an empty bucket
/// records              u64 offset of the next record in the same bucket (0 ends the chain) · u32 key length ·
///                      u32 value length · key bytes · value bytes (UTF-8); in source order
/// </code>
/// The bucket of a key is FNV-1a (64-bit) of its UTF-8 bytes, masked with B − 1. A reader checks every offset
/// and length against the file size and stops a chain after N records, so a damaged file gives an error, not
/// a hang or a huge allocation. A writer replaces FILE.db atomically (temporary file, fsync, rename(2)).
/// </remarks>
public static class HashFile
{
    private static ReadOnlySpan<byte> Magic => "PHHASH1\n"u8;
    private const int HeaderSize = 24;
    private const int RecordHeaderSize = 16;
    internal const uint FlagFolded = 1;

    /// <summary>Writes <paramref name="entries"/> (unique keys) to <paramref name="dbPath"/> atomically; the new
    /// file gets the group and other read bits of <paramref name="sourcePath"/> when given (as postmap(1) does).</summary>
    public static void Write(string dbPath, IReadOnlyList<TableSourceEntry> entries, bool folded, string? sourcePath = null)
    {
        int buckets = 1;
        while (buckets < entries.Count * 2 && buckets < (1 << 30))
            buckets <<= 1;
        var keys = entries.Select(e => Encoding.UTF8.GetBytes(e.Key)).ToArray();
        var values = entries.Select(e => Encoding.UTF8.GetBytes(e.Value)).ToArray();
        var offsets = new long[entries.Count];
        long at = HeaderSize + 8L * buckets;
        for (int i = 0; i < entries.Count; i++)
        {
            offsets[i] = at;
            at += RecordHeaderSize + keys[i].Length + values[i].Length;
        }
        var heads = new long[buckets];
        var next = new long[entries.Count];
        // Link each bucket's chain in source order: walk backwards, pushing on the front.
        for (int i = entries.Count - 1; i >= 0; i--)
        {
            int b = (int)(Hash(keys[i]) & (ulong)(buckets - 1));
            next[i] = heads[b];
            heads[b] = offsets[i];
        }

        string dir = Path.GetDirectoryName(Path.GetFullPath(dbPath))!;
        string tmp = Path.Combine(dir, $".{Path.GetFileName(dbPath)}.{Environment.ProcessId}.{Random.Shared.Next():x8}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 65536))
            {
                if (!OperatingSystem.IsWindows())
                {
                    var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                    if (sourcePath is not null && File.Exists(sourcePath))
                        mode |= File.GetUnixFileMode(sourcePath) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                    File.SetUnixFileMode(fs.SafeFileHandle, mode);
                }
                Span<byte> h = stackalloc byte[HeaderSize];
                Magic.CopyTo(h);
                BinaryPrimitives.WriteUInt32LittleEndian(h[8..], folded ? FlagFolded : 0);
                BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)buckets);
                BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)entries.Count);
                BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 0);
                fs.Write(h);
                Span<byte> u64 = stackalloc byte[8];
                foreach (long head in heads)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(u64, head);
                    fs.Write(u64);
                }
                Span<byte> rh = stackalloc byte[RecordHeaderSize];
                for (int i = 0; i < entries.Count; i++)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(rh, next[i]);
                    BinaryPrimitives.WriteInt32LittleEndian(rh[8..], keys[i].Length);
                    BinaryPrimitives.WriteInt32LittleEndian(rh[12..], values[i].Length);
                    fs.Write(rh);
                    fs.Write(keys[i]);
                    fs.Write(values[i]);
                }
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, dbPath, overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    /// <summary>FNV-1a, 64 bits: stable across processes (unlike string.GetHashCode).</summary>
    internal static ulong Hash(ReadOnlySpan<byte> key)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in key)
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h;
    }

    /// <summary>An open compiled file: header checked, records read on demand.</summary>
    internal sealed class Reader : IDisposable
    {
        private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle;
        private readonly long _length;
        private readonly string _path;

        public Reader(string path)
        {
            _path = path;
            _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            try
            {
                _length = RandomAccess.GetLength(_handle);
                Span<byte> h = stackalloc byte[HeaderSize];
                if (_length < HeaderSize || RandomAccess.Read(_handle, h, 0) != HeaderSize || !h[..8].SequenceEqual(Magic))
                    throw new InvalidDataException($"{path}: not a Posthorn hash table");
                Flags = BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
                Buckets = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
                Count = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
                if (Buckets == 0 || (Buckets & (Buckets - 1)) != 0 || HeaderSize + 8L * Buckets > _length)
                    throw Corrupt();
            }
            catch
            {
                _handle.Dispose();
                throw;
            }
        }

        public uint Flags { get; }
        public uint Buckets { get; }
        public uint Count { get; }

        public bool TryGet(string key, out string value)
        {
            byte[] k = Encoding.UTF8.GetBytes(key);
            Span<byte> u64 = stackalloc byte[8];
            long bucket = (long)(Hash(k) & (Buckets - 1));
            ReadExactly(u64, HeaderSize + 8 * bucket);
            long offset = BinaryPrimitives.ReadInt64LittleEndian(u64);
            for (uint hops = 0; offset != 0; hops++)
            {
                if (hops > Count)
                    throw Corrupt();
                var (nextOffset, recordKey, recordValue) = ReadRecord(offset, k.Length);
                if (recordKey is not null && recordKey.AsSpan().SequenceEqual(k))
                {
                    value = recordValue!;
                    return true;
                }
                offset = nextOffset;
            }
            value = "";
            return false;
        }

        public IEnumerable<KeyValuePair<string, string>> ReadAll()
        {
            long offset = HeaderSize + 8L * Buckets;
            for (uint i = 0; i < Count; i++)
            {
                var (_, key, value, size) = ReadFull(offset);
                yield return new(key, value);
                offset += size;
            }
        }

        /// <summary>Reads a record; its key bytes only when they have the wanted length (others cannot match).</summary>
        private (long Next, byte[]? Key, string? Value) ReadRecord(long offset, int wantedKeyLength)
        {
            Span<byte> rh = stackalloc byte[RecordHeaderSize];
            ReadExactly(rh, offset);
            long next = BinaryPrimitives.ReadInt64LittleEndian(rh);
            int kl = BinaryPrimitives.ReadInt32LittleEndian(rh[8..]);
            int vl = BinaryPrimitives.ReadInt32LittleEndian(rh[12..]);
            CheckRecord(offset, next, kl, vl);
            if (kl != wantedKeyLength)
                return (next, null, null);
            var buf = new byte[kl + vl];
            ReadExactly(buf, offset + RecordHeaderSize);
            return (next, buf[..kl], Encoding.UTF8.GetString(buf, kl, vl));
        }

        private (long Next, string Key, string Value, long Size) ReadFull(long offset)
        {
            Span<byte> rh = stackalloc byte[RecordHeaderSize];
            ReadExactly(rh, offset);
            long next = BinaryPrimitives.ReadInt64LittleEndian(rh);
            int kl = BinaryPrimitives.ReadInt32LittleEndian(rh[8..]);
            int vl = BinaryPrimitives.ReadInt32LittleEndian(rh[12..]);
            CheckRecord(offset, next, kl, vl);
            var buf = new byte[kl + vl];
            ReadExactly(buf, offset + RecordHeaderSize);
            return (next, Encoding.UTF8.GetString(buf, 0, kl), Encoding.UTF8.GetString(buf, kl, vl), RecordHeaderSize + (long)kl + vl);
        }

        private void CheckRecord(long offset, long next, int kl, int vl)
        {
            if (kl < 0 || vl < 0 || offset + RecordHeaderSize + (long)kl + vl > _length || next < 0 || next >= _length)
                throw Corrupt();
        }

        private void ReadExactly(Span<byte> buffer, long offset)
        {
            if (offset < 0 || offset + buffer.Length > _length)
                throw Corrupt();
            int done = 0;
            while (done < buffer.Length)
            {
                int n = RandomAccess.Read(_handle, buffer[done..], offset + done);
                if (n <= 0)
                    throw Corrupt();
                done += n;
            }
        }

        private InvalidDataException Corrupt() => new($"{_path}: corrupt Posthorn hash table");

        public void Dispose() => _handle.Dispose();
    }
}
