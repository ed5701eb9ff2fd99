using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Posthorn.Store.Mbox;

/// <summary>Writing the mbox: APPEND at the end, and the rewrite that drops expunged messages and puts
/// the index's flags into Status/X-Status — both under the dotlock and the fcntl lock delivery takes.</summary>
internal sealed partial class MboxFolder
{
    /// <summary>Appends a message in mbox form (From_ line, Status/X-Status/X-Keywords, "From " quoted, LF line
    /// ends, a blank line after it) and gives it the next UID.</summary>
    public Entry Append(ReadOnlySpan<byte> message, MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset date,
        CancellationToken ct)
    {
        var (fd, held) = LockCurrent(create: true, ct);
        using (held)
        {
            SyncLocked(fd);
            if (!MboxNative.TryFstat(fd, out var st)) throw new IOException($"cannot stat {Path}");
            long end = st.Size;
            var data = Format(message, flags, keywords, date, Separator(fd, end));
            try
            {
                RandomAccess.Write(fd, data, end);
                RandomAccess.FlushToDisk(fd);
            }
            catch (IOException)
            {
                // Postfix mail_copy(3): truncate to the original length so no half message stays.
                RandomAccess.SetLength(fd, end);
                throw;
            }
            SyncLocked(fd);
            var e = _entries[^1];
            if (e.Offset < end) throw new IOException($"appended message not found in {Path}");
            return e;
        }
    }

    /// <summary>Takes the dotlock and the exclusive fcntl lock on the file the path names once both are held:
    /// a reader that renames a new mbox into place (MboxFile.Rewrite, posthorn mail) may have replaced the
    /// one we had open while we waited, and a lock on that one would protect nothing.</summary>
    private (SafeFileHandle Fd, IDisposable Held) LockCurrent(bool create, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            var fd = EnsureOpen() ?? (create ? Create() : throw new IOException($"{Path} vanished"));
            var held = MboxLock.Exclusive(Path, fd, _locking, _clock, ct);
            if (MboxNative.TryLstat(Path, out var named, out _) && MboxNative.TryFstat(fd, out var open) && named.Inode == open.Inode)
                return (fd, held);
            held.Dispose();
            if (attempt >= 3) throw new IOException($"{Path} keeps being replaced while we lock it");
        }
    }

    private SafeFileHandle Create()
    {
        // Only when not root (MboxInboxAccount refuses otherwise): the daemon then runs as the mail's user,
        // and the file is that user's, mode 0600, as local(8) would create it.
        var fd = MboxNative.Open(Path, MboxNative.O_RDWR | MboxNative.O_CREAT | MboxNative.O_EXCL | MboxNative.O_NOFOLLOW | MboxNative.O_NOCTTY,
            0x180, out int errno);
        if (fd is null && errno == MboxNative.EEXIST) return EnsureOpen() ?? throw new IOException($"cannot open {Path}");
        if (fd is null) throw new IOException($"cannot create {Path}: {MboxNative.StrError(errno)}");
        return _fd = fd;
    }

    /// <summary>What goes before a new message so the previous one ends in a blank line (RFC 4155 §2).</summary>
    private static string Separator(SafeFileHandle fd, long end)
    {
        if (end == 0) return "";
        Span<byte> last = stackalloc byte[2];
        int n = RandomAccess.Read(fd, last, Math.Max(0, end - 2));
        if (n == 2 && last[0] == '\n' && last[1] == '\n') return "";
        return last[n - 1] == '\n' ? "\n" : "\n\n";
    }

    /// <summary>The mbox form of an APPENDed message.</summary>
    private byte[] Format(ReadOnlySpan<byte> message, MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset date,
        string separator)
    {
        var local = TimeZoneInfo.ConvertTime(date, _clock.LocalTimeZone);
        var day = local.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2);
        // Dovecot writes "From MAILER-DAEMON" for messages that came without an envelope sender.
        string from = $"From MAILER-DAEMON  {local.ToString("ddd MMM ", CultureInfo.InvariantCulture)}{day}{local.ToString(" HH:mm:ss yyyy", CultureInfo.InvariantCulture)}\n";
        var output = new MemoryStream(message.Length + 256);
        output.Write(Encoding.ASCII.GetBytes(separator + from));
        bool header = true, hidden = false;
        string status = MboxMessageFilter.StatusLines(flags, old: false, keywords);
        while (message.Length > 0)
        {
            int nl = message.IndexOf((byte)'\n');
            var line = nl < 0 ? message : message[..nl];
            message = nl < 0 ? [] : message[(nl + 1)..];
            if (line.EndsWith("\r"u8)) line = line[..^1];
            if (header)
            {
                if (line.Length == 0)
                {
                    header = false;
                    output.Write(Encoding.ASCII.GetBytes(status));
                    status = "";
                }
                else
                {
                    if (line[0] is not ((byte)' ' or (byte)'\t')) hidden = MboxMessageFilter.IsHidden(line);
                    // Headers that carry state belong to us: a client's own Status: would set flags.
                    if (hidden) continue;
                }
            }
            // RFC 4155 §2 / Postfix mail_copy.c: quote a "From " at the start of a line.
            if (line.StartsWith("From "u8)) output.WriteByte((byte)'>');
            output.Write(line);
            output.WriteByte((byte)'\n');
        }
        if (header) output.Write(Encoding.ASCII.GetBytes(status + "\n"));
        output.WriteByte((byte)'\n'); // the blank line that ends an mbox message
        return output.ToArray();
    }

    /// <summary>Rewrites the mbox without the messages whose UIDs are in <paramref name="remove"/> and with
    /// every message's Status/X-Status/X-Keywords set from the index; nothing happens when there is nothing to change.</summary>
    /// <remarks>
    /// Under the dotlock and the exclusive fcntl lock, after reading any mail delivered meanwhile (so it
    /// is copied too and never lost). The new content goes to a temp file first and is fsync'd. Then:
    /// when we may create files in the mbox's directory and can give the new file the mbox's owner (we are
    /// root or own the mbox), the temp file is there, gets the mbox's owner and mode, and is renamed over
    /// it (atomic: a crash leaves the old or the new mbox); otherwise (a spool directory we cannot write,
    /// e.g. /var/mail mode 2775 root:mail, or another user's mbox), the temp file is
    /// beside the index and is copied back over the mbox in place, which is then truncated and fsync'd,
    /// as mutt does — the inode stays, and until the copy ends the temp file holds the whole new mailbox.
    /// </remarks>
    public void Rewrite(IReadOnlySet<uint> remove, CancellationToken ct)
    {
        if (EnsureOpen() is null) return;
        SafeFileHandle? replaced = null;
        var (fd, held) = LockCurrent(create: false, ct);
        using (held)
        {
            SyncLocked(fd);
            if (!_entries.Any(e => remove.Contains(e.Info.Uid)) && !Dirty) return;
            if (!MboxNative.TryFstat(fd, out var st)) throw new IOException($"cannot stat {Path}");
            string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
            // One fixed name: only the dotlock holder writes it, so a leftover from a crash can go first.
            string temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(Path)}.posthorn.tmp");
            const int create = MboxNative.O_RDWR | MboxNative.O_CREAT | MboxNative.O_EXCL | MboxNative.O_NOFOLLOW | MboxNative.O_NOCTTY;
            // rename(2) only where the new file can have the mbox's owner: as root, or when the mbox is ours.
            uint euid = MboxNative.geteuid();
            bool mayRename = !ForceInPlace && (euid == 0 || euid == st.Uid);
            if (mayRename) MboxNative.unlink(temp);
            var tfd = mayRename ? MboxNative.Open(temp, create, 0x180, out _) : null;
            bool inPlace = tfd is null;
            if (inPlace)
            {
                temp = _indexFile + ".rewrite";
                MboxNative.unlink(temp);
                tfd = MboxNative.Open(temp, create, 0x180, out int errno)
                    ?? throw new IOException($"cannot create {temp}: {MboxNative.StrError(errno)}");
            }
            bool done = false;
            try
            {
                long length = WriteNewContent(fd, tfd!, remove);
                RandomAccess.FlushToDisk(tfd!);
                if (inPlace)
                {
                    CopyBack(tfd!, fd, length);
                    _size = -1; // offsets moved in the same inode: parse it all again
                    SyncLocked(fd);
                }
                else
                {
                    if (euid == 0 && MboxNative.fchown((int)tfd!.DangerousGetHandle(), st.Uid, st.Gid) < 0)
                        throw new IOException($"cannot change owner of {temp}: {MboxNative.StrError(MboxNative.Errno)}");
                    MboxNative.fchmod((int)tfd!.DangerousGetHandle(), st.Mode & 0xFFF);
                    if (MboxNative.rename(temp, Path) < 0)
                        throw new IOException($"cannot rename {temp}: {MboxNative.StrError(MboxNative.Errno)}");
                    done = true;
                    MboxNative.FsyncDirectory(dir);
                    // Still under the dotlock: read the new file before delivery may append to it.
                    replaced = fd;
                    _fd = null;
                    var nfd = EnsureOpen() ?? throw new IOException($"{Path} vanished after the rewrite");
                    using (MboxLock.Shared(Path, nfd, _locking, ct))
                        SyncLocked(nfd);
                }
                done = true;
            }
            finally
            {
                tfd!.Dispose();
                if (inPlace || !done) MboxNative.unlink(temp);
            }
        }
        replaced?.Dispose();
    }

    /// <summary>Writes the kept messages, with new Status/X-Status/X-Keywords lines, to <paramref name="output"/>; returns the length.</summary>
    private long WriteNewContent(SafeFileHandle fd, SafeFileHandle output, IReadOnlySet<uint> remove)
    {
        var w = new HandleWriter(output);
        long first = _entries.Count > 0 ? _entries[0].Offset : 0;
        CopyRange(fd, 0, first, w);   // anything before the first From_ line stays as it was
        foreach (var e in _entries)
        {
            if (remove.Contains(e.Info.Uid)) continue;
            bool header = true, hidden = false, fromLine = true;
            byte[] status = Encoding.ASCII.GetBytes(MboxMessageFilter.StatusLines(e.Info.Flags, e.Old, e.Info.Keywords));
            MboxScanner.ForEachLine(fd, e.Offset, e.End, (_, piece, lineStart, lineEnd) =>
            {
                if (fromLine)
                {
                    fromLine = !lineEnd;
                    w.Write(piece);
                    return;
                }
                if (header && lineStart)
                {
                    if (lineEnd && (piece.SequenceEqual("\n"u8) || piece.SequenceEqual("\r\n"u8)))
                    {
                        header = false;
                        w.Write(status);
                    }
                    else if (piece[0] is not ((byte)' ' or (byte)'\t'))
                    {
                        hidden = IsStatusHeader(piece);
                    }
                }
                if (header && hidden) return;
                w.Write(piece);
            });
            if (header) w.Write(status);
        }
        w.Flush();
        return w.Position;
    }

    /// <summary>Buffered writes at increasing offsets of a handle it does not own (a FileStream would close it).</summary>
    private sealed class HandleWriter(SafeFileHandle handle)
    {
        private readonly byte[] _buf = new byte[65536];
        private int _used;

        public long Position { get; private set; }

        public void Write(ReadOnlySpan<byte> data)
        {
            if (_used + data.Length > _buf.Length) Flush();
            if (data.Length >= _buf.Length)
            {
                RandomAccess.Write(handle, data, Position);
                Position += data.Length;
                return;
            }
            data.CopyTo(_buf.AsSpan(_used));
            _used += data.Length;
        }

        public void Flush()
        {
            if (_used == 0) return;
            RandomAccess.Write(handle, _buf.AsSpan(0, _used), Position);
            Position += _used;
            _used = 0;
        }
    }

    private static bool IsStatusHeader(ReadOnlySpan<byte> line)
    {
        int colon = line.IndexOf((byte)':');
        if (colon <= 0) return false;
        var name = line[..colon].TrimEnd(" \t"u8);
        return System.Text.Ascii.EqualsIgnoreCase(name, "status"u8) || System.Text.Ascii.EqualsIgnoreCase(name, "x-status"u8)
            || System.Text.Ascii.EqualsIgnoreCase(name, "x-keywords"u8);
    }

    private static void CopyRange(SafeFileHandle fd, long start, long end, HandleWriter output)
    {
        var buf = new byte[65536];
        for (long pos = start; pos < end;)
        {
            int n = RandomAccess.Read(fd, buf.AsSpan(0, (int)Math.Min(buf.Length, end - pos)), pos);
            if (n <= 0) break;
            output.Write(buf.AsSpan(0, n));
            pos += n;
        }
    }

    /// <summary>The in-place half of <see cref="Rewrite"/>: copy the new content over the mbox, truncate, fsync.</summary>
    private static void CopyBack(SafeFileHandle from, SafeFileHandle to, long length)
    {
        var buf = new byte[65536];
        for (long pos = 0; pos < length;)
        {
            int n = RandomAccess.Read(from, buf.AsSpan(0, (int)Math.Min(buf.Length, length - pos)), pos);
            if (n <= 0) throw new IOException("short read of the rewritten mailbox");
            RandomAccess.Write(to, buf.AsSpan(0, n), pos);
            pos += n;
        }
        RandomAccess.SetLength(to, length);
        RandomAccess.FlushToDisk(to);
    }
}
