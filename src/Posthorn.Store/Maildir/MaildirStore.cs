using System.Globalization;
using System.Text;

namespace Posthorn.Store.Maildir;

/// <summary>The Maildir store: each user's Maildir with Maildir++ folders (<c>.Name</c> directories
/// under the Maildir, "." as the hierarchy delimiter) and a SQLite index in every folder.</summary>
/// <remarks>
/// Standards: the Maildir convention (cr.yp.to/proto/maildir.html), Maildir++ (Courier), RFC 9051
/// §2.3.1.1 (UIDs). Security: opens only paths under the Maildir it is given; mailbox names are
/// checked by <see cref="MaildirAccount.TryGetPath"/> before they become paths. Runs as the daemon's
/// user; per-user privilege switching is the daemon's job.
/// One instance per process: it keeps one <see cref="MaildirFolder"/> per open folder, shared by the
/// sessions that have it open, so that they see each other's changes at once, and keeps up to 16 folders
/// loaded after their last session, so that the next SELECT only checks for changes (<see cref="MaildirFolder.Sync"/>).
/// </remarks>
public sealed class MaildirStore : IMailStore
{
    /// <summary>Folders kept loaded with no session on them.</summary>
    private const int MaxIdle = 16;

    private readonly Dictionary<string, MaildirFolder> _open = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _idle = new();
    private readonly Lock _gate = new();
    private readonly string _hostname;
    private readonly int _pid;
    private long _counter;

    public MaildirStore(TimeProvider clock, string hostname, int pid)
    {
        Clock = clock;
        _hostname = hostname;
        _pid = pid;
    }

    internal TimeProvider Clock { get; }

    public IMailAccount OpenAccount(string user, string maildir) => new MaildirAccount(this, user, maildir);

    /// <summary>Takes a reference on the shared state of a folder.</summary>
    internal MaildirFolder Acquire(string path)
    {
        lock (_gate)
        {
            if (!_open.TryGetValue(path, out var f))
            {
                f = new MaildirFolder(path, Clock);
                _open[path] = f;
            }
            if (f.References++ == 0) _idle.Remove(path);
            return f;
        }
    }

    internal void Release(MaildirFolder folder)
    {
        MaildirFolder? evicted = null;
        lock (_gate)
        {
            if (--folder.References > 0) return;
            // The last session left: the folder stays loaded (its rows, its open index) for the next SELECT, as
            // Dovecot keeps its index; only the least recently used idle folders beyond MaxIdle are closed.
            _idle.Remove(folder.Path);
            _idle.AddLast(folder.Path);
            if (_idle.Count > MaxIdle)
            {
                string oldest = _idle.First!.Value;
                _idle.RemoveFirst();
                evicted = _open[oldest];
                _open.Remove(oldest);
            }
        }
        if (evicted is not null) Close(evicted);
    }

    /// <summary>Closes idle folders at or under <paramref name="path"/> (a mailbox deleted or renamed by this process).</summary>
    internal void Forget(string path)
    {
        var closing = new List<MaildirFolder>();
        lock (_gate)
        {
            foreach (var (p, f) in _open)
            {
                if (f.References > 0 || !(p == path || p.StartsWith(path + "/", StringComparison.Ordinal) || p.StartsWith(path + ".", StringComparison.Ordinal)))
                    continue;
                closing.Add(f);
            }
            foreach (var f in closing)
            {
                _open.Remove(f.Path);
                _idle.Remove(f.Path);
            }
        }
        foreach (var f in closing) Close(f);
    }

    private static void Close(MaildirFolder folder)
    {
        // Nobody else can reach it now; wait for an operation still holding the lock.
        folder.Lock.Wait();
        folder.Dispose();
    }

    /// <summary>A new Maildir unique name: <c>SECONDS.M&lt;usec&gt;P&lt;pid&gt;Q&lt;n&gt;.HOST</c>, as delivery makes them.</summary>
    internal string UniqueName()
    {
        var now = Clock.GetUtcNow();
        long micros = now.Ticks / 10 % 1_000_000;
        long n = Interlocked.Increment(ref _counter);
        var host = new StringBuilder();
        foreach (char c in _hostname) host.Append(c switch { '/' => "\\057", ':' => "\\072", _ => c.ToString() });
        return string.Create(CultureInfo.InvariantCulture, $"{now.ToUnixTimeSeconds()}.M{micros}P{_pid}I{n}.{host}");
    }

    /// <summary>Runs <paramref name="action"/> on a folder under its lock, after a sync.</summary>
    internal async ValueTask<T> WithFolderAsync<T>(string path, Func<MaildirFolder, T> action, CancellationToken ct)
    {
        var f = Acquire(path);
        try
        {
            await f.Lock.WaitAsync(ct);
            try
            {
                f.Sync();
                return action(f);
            }
            finally
            {
                f.Lock.Release();
            }
        }
        finally
        {
            Release(f);
        }
    }
}
