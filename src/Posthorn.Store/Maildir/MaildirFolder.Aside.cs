namespace Posthorn.Store.Maildir;

/// <summary>A large scan's index rows committed on another thread, so that the SELECT which found the files answers
/// without waiting for them.</summary>
/// <remarks>
/// The first SELECT of a Maildir that holds 100,000 messages spent 300 of its 800 ms inserting their rows. When a scan
/// finds at least <see cref="AsideRows"/> new files, it commits only the UIDs it reserved (UIDNEXT past them, and any
/// expunges) and hands the rows to a thread of their own; every later use of the index waits for them first
/// (<see cref="Index"/>, <see cref="Settle"/>). A crash before the rows land leaves an index whose UIDNEXT is past
/// UIDs no row holds: the next scan gives those files new UIDs from UIDNEXT on, so no UID is ever given to two
/// messages under one UIDVALIDITY (RFC 9051 §2.3.1.1). If the rows' commit fails, the next <see cref="Sync"/> reloads
/// what the index holds and rescans in the same way.
/// </remarks>
internal sealed partial class MaildirFolder
{
    /// <summary>New files a scan must find before its rows are committed aside.</summary>
    internal const int AsideRows = 1000;

    private Task? _aside;

    /// <summary>Whether rows committed aside are still being written.</summary>
    private bool Aside => _aside is { IsCompleted: false };

    /// <summary>The index, once the rows committed aside are in it.</summary>
    private MaildirIndex Index
    {
        get
        {
            Settle();
            return _index;
        }
    }

    /// <summary>Waits for the rows committed aside; their commit's failure is thrown here.</summary>
    private void Settle()
    {
        if (_aside is not { } aside) return;
        _aside = null;
        try
        {
            aside.GetAwaiter().GetResult();
        }
        catch
        {
            _dataVersion = long.MinValue;   // the next Sync reloads the index as it is
            throw;
        }
        _dataVersion = _index.DataVersion();
    }

    /// <summary>Commits the reservation (UIDNEXT, the expunges) now and <paramref name="upserts"/> aside.</summary>
    private void PersistAside(IEnumerable<Entry> upserts, IEnumerable<uint> deletes)
    {
        Index.Commit(UidValidity, UidNext, HighestModSeq, [], deletes.ToList());
        var entries = TakeLearned(upserts);
        var index = _index;
        uint validity = UidValidity, next = UidNext;
        ulong modSeq = HighestModSeq;
        _aside = Task.Factory.StartNew(() => index.Commit(validity, next, modSeq, entries.Select(ToRow), []),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Changed();
    }

    /// <summary>Runs <paramref name="write"/> on the index now, or after the rows committed aside.</summary>
    private void WriteAfterAside(Action<MaildirIndex> write)
    {
        if (_aside is not { } aside)
        {
            write(_index);
            _dataVersion = _index.DataVersion();
            return;
        }
        var index = _index;
        _aside = aside.ContinueWith(t =>
        {
            t.GetAwaiter().GetResult();
            write(index);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
