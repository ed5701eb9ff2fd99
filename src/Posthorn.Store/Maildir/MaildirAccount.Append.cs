namespace Posthorn.Store.Maildir;

/// <summary>APPEND and the file placement shared with COPY: write tmp/NAME, fsync, rename to
/// cur/NAME:2,FLAGS, register the UID — all under the target folder's lock so that a rescan cannot
/// give the file a second UID.</summary>
internal sealed partial class MaildirAccount
{
    public async ValueTask<(AppendResult? Result, StoreError? Error)> AppendAsync(string name, ReadOnlyMemory<byte> message,
        MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset? internalDate, CancellationToken ct)
    {
        if (!Exists(name) || !TryGetPath(name, out var path))
            return (null, new StoreError("TRYCREATE", $"Mailbox doesn't exist: {name}"));
        var date = internalDate ?? store.Clock.GetUtcNow();
        var result = await store.WithFolderAsync(path, f =>
        {
            var e = Place(f, tmp => File.WriteAllBytes(tmp, message.Span), flags, keywords, date);
            return new AppendResult(f.UidValidity, e.Info.Uid);
        }, ct);
        return (result, null);
    }

    /// <summary>Puts a new file into <paramref name="f"/> (whose lock the caller holds).</summary>
    internal MaildirFolder.Entry Place(MaildirFolder f, Action<string> write, MessageFlags flags,
        IReadOnlyList<string> keywords, DateTimeOffset date)
    {
        string baseName = store.UniqueName();
        string tmp = Path.Combine(f.Path, "tmp", baseName);
        string rel = "cur/" + MaildirName.Format(baseName, flags);
        try
        {
            write(tmp);
            using (var h = File.OpenHandle(tmp, FileMode.Open, FileAccess.ReadWrite))
                RandomAccess.FlushToDisk(h);
            // Dovecot keeps INTERNALDATE as the file's mtime; so do we, so a rebuilt index agrees.
            File.SetLastWriteTimeUtc(tmp, date.UtcDateTime);
            File.Move(tmp, Path.Combine(f.Path, rel));
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
        long size = MaildirName.CrlfSize(Path.Combine(f.Path, rel));
        return f.Add(baseName, rel, flags, keywords, size, DateTimeOffset.FromUnixTimeSeconds(date.ToUnixTimeSeconds()));
    }

    /// <summary>Moves an existing file into <paramref name="f"/> (whose lock the caller holds), keeping
    /// its base name; null if the source file is gone.</summary>
    internal MaildirFolder.Entry? Adopt(MaildirFolder f, string sourceFile, MessageInfo info)
    {
        string rel = "cur/" + MaildirName.Format(info.Key, info.Flags);
        try
        {
            File.Move(sourceFile, Path.Combine(f.Path, rel));
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        return f.Add(info.Key, rel, info.Flags, info.Keywords, info.Size, info.InternalDate);
    }
}
