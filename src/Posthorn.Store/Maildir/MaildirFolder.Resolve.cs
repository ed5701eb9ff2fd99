namespace Posthorn.Store.Maildir;

/// <summary>Exact sizes and dates for the records a scan estimated from file names (<see cref="MessageInfo.Estimated"/>).</summary>
/// <remarks>The scan opens no message file, so that a first SELECT of a large Maildir costs a directory listing; the
/// RFC822.SIZE (the size with CRLF line ends, RFC 9051 §7.5.2) and the INTERNALDATE (the file's modification time, as
/// Dovecot keeps it) are read here, once per message, when a command first needs them, and kept in the index.</remarks>
internal sealed partial class MaildirFolder
{
    /// <summary>The current records of the messages' UIDs, exact; null for a UID no longer here or whose file is gone.</summary>
    public MessageInfo?[] Resolve(IReadOnlyList<MessageInfo> messages)
    {
        var result = new MessageInfo?[messages.Count];
        List<Entry>? resolved = null;
        byte[]? buffer = null;
        for (int i = 0; i < result.Length; i++)
        {
            if (ByUid(messages[i].Uid) is not { } e) continue;
            if (e.Info.Estimated)
            {
                if (!TryMeasure(e, buffer ??= new byte[65536], out long size, out var date)) continue;
                e.Info = e.Info with { Size = size, InternalDate = date, Estimated = false };
                (resolved ??= []).Add(e);
            }
            result[i] = e.Info;
        }
        if (resolved is not null)
        {
            // Learned, not changed: no new modseq and no new Version (no session has anything to announce), but the
            // next snapshot carries the exact values.
            _index.Commit(UidValidity, UidNext, HighestModSeq, TakeLearned(resolved).Select(ToRow).ToList(), []);
            _dataVersion = _index.DataVersion();
            _snapshot = null;
        }
        return result;
    }

    /// <summary>One open of the file: its CRLF size (from the name's <c>,W=</c> when it has one) and its
    /// modification time in whole seconds; false when the file is gone.</summary>
    private bool TryMeasure(Entry e, byte[] buffer, out long size, out DateTimeOffset date)
    {
        try
        {
            using var handle = File.OpenHandle(FullPath(e), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            size = MaildirName.TryVirtualSize(e.Info.Key, out long named) ? named : MaildirName.CrlfSize(handle, buffer);
            date = DateTimeOffset.FromUnixTimeSeconds(new DateTimeOffset(File.GetLastWriteTimeUtc(handle)).ToUnixTimeSeconds());
            return true;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            size = 0;
            date = default;
            return false;
        }
    }

    /// <summary>The whole file at <paramref name="path"/> and its modification time (one open, one fstat).</summary>
    public static byte[] ReadFile(string path, out DateTime modified)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        modified = File.GetLastWriteTimeUtc(handle);
        long length = RandomAccess.GetLength(handle);
        var data = new byte[length];
        int done = 0;
        while (done < data.Length)
        {
            int n = RandomAccess.Read(handle, data.AsSpan(done), done);
            if (n == 0) break;
            done += n;
        }
        return done == data.Length ? data : data[..done];
    }

    /// <summary>Makes estimated records exact from message contents a read already has (so that a FETCH of
    /// ENVELOPE and RFC822.SIZE reads each file once): the CRLF size of the same bytes, the file's modification time.
    /// The rows are written with the next index transaction of this folder (<see cref="WriteCache"/> or any commit).</summary>
    public void Learn(IReadOnlyList<(uint Uid, byte[] Data, DateTime Modified)> read)
    {
        foreach (var (uid, data, modified) in read)
        {
            if (ByUid(uid) is not { Info.Estimated: true } e) continue;
            byte previous = 0;
            long size = MaildirName.TryVirtualSize(e.Info.Key, out long named) ? named : MaildirName.CrlfSize(data, ref previous);
            var date = DateTimeOffset.FromUnixTimeSeconds(new DateTimeOffset(modified).ToUnixTimeSeconds());
            e.Info = e.Info with { Size = size, InternalDate = date, Estimated = false };
            _learned.Add(e);
            _snapshot = null;
        }
    }
}
