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
            _index.Commit(UidValidity, UidNext, HighestModSeq, resolved.Select(ToRow).ToList(), []);
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
}
