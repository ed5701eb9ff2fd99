using System.Net;
using System.Net.Sockets;
using Posthorn.Imap;
using Posthorn.Daemon.Master;
using Posthorn.Mail.Auth;
using Posthorn.Logging;
using Posthorn.Pop3;
using Posthorn.Store;
using Posthorn.Store.Maildir;

namespace Posthorn.Tests.Imap;

/// <summary>imapd and pop3d on loopback ports over a temp Maildir for user "alice" (password "secret").</summary>
public sealed class ImapTestServer : IAsyncDisposable
{
    private readonly TcpListener _imap = new(IPAddress.Loopback, 0);
    private readonly TcpListener _pop3 = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("posthorn-imap-");
    private int _counter;

    private readonly IMailStore _sessionStore;

    /// <param name="options">Session options (defaults: 100 ms mailbox checks, no auth failure delay).</param>
    /// <param name="wrapStore">Wraps the Maildir store as the sessions see it (to observe their store calls).</param>
    public ImapTestServer(ImapSessionOptions? options = null, Func<IMailStore, IMailStore>? wrapStore = null)
    {
        Options = options ?? new ImapSessionOptions { MailboxCheckInterval = TimeSpan.FromMilliseconds(100), AuthFailureDelay = TimeSpan.Zero };
        string home = Path.Combine(_root.FullName, "alice");
        Directory.CreateDirectory(home);
        Maildir = Path.Combine(home, "Maildir");
        string passwd = Path.Combine(_root.FullName, "passwd");
        File.WriteAllText(passwd, $"alice:{{PLAIN}}secret:1000:1000::{home}::\n");
        Users = new UserDatabaseImapResolver(new PasswdFile(passwd), "Maildir/");
        Store = new MaildirStore(TimeProvider.System, "test.example", 4242);
        _sessionStore = wrapStore?.Invoke(Store) ?? Store;
        Log = new MailLog(LogSink, "postfix", "mail.example.test", TimeProvider.System, 4242);
        _imap.Start();
        _pop3.Start();
        _tasks.Add(AcceptAsync(_imap, false));
        _tasks.Add(AcceptAsync(_pop3, true));
    }

    public ImapSessionOptions Options { get; }
    /// <summary>When set, sessions believe the client comes from here (to test a non-loopback client over loopback).</summary>
    public IPEndPoint? FakeRemote { get; init; }
    public string Maildir { get; }
    public UserDatabaseImapResolver Users { get; }
    public MaildirStore Store { get; }
    public MemoryLogSink LogSink { get; } = new();
    public MailLog Log { get; }
    public int ImapPort => ((IPEndPoint)_imap.LocalEndpoint).Port;
    public int Pop3Port => ((IPEndPoint)_pop3.LocalEndpoint).Port;

    private async Task AcceptAsync(TcpListener listener, bool pop3)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await listener.AcceptSocketAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var opts = Options with { RemoteEndPoint = FakeRemote ?? (IPEndPoint)s.RemoteEndPoint!, LocalEndPoint = (IPEndPoint)s.LocalEndPoint!, SessionId = "test" };
            var stream = new NetworkStream(s, ownsSocket: true);
            lock (_tasks)
            {
                _tasks.Add(pop3
                    ? new Pop3ServerSession(stream, opts, _sessionStore, Users, Log, TimeProvider.System).RunAsync(_stop.Token)
                    : new ImapServerSession(stream, opts, _sessionStore, Users, Log, TimeProvider.System).RunAsync(_stop.Token));
            }
        }
    }

    /// <summary>Drops a message into new/ the way local delivery does (tmp/ then rename).</summary>
    public string Deliver(string subject, string body = "Hello there.\n", string from = "bob@example.test")
    {
        foreach (var d in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(Maildir, d));
        string name = $"1700000000.M{Interlocked.Increment(ref _counter):D6}P1Q1.test";
        string tmp = Path.Combine(Maildir, "tmp", name);
        File.WriteAllText(tmp, $"From: Bob <{from}>\nTo: alice@example.test\nSubject: {subject}\nDate: Mon, 13 Nov 2023 10:00:00 +0000\nMessage-ID: <{name}@example.test>\n\n{body}");
        File.Move(tmp, Path.Combine(Maildir, "new", name));
        return name;
    }

    public string[] CurFiles(string folder = "") =>
        Directory.GetFiles(Path.Combine(Maildir, folder, "cur")).Select(Path.GetFileName).OfType<string>().Order().ToArray();

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _imap.Stop();
        _pop3.Stop();
        Task[] all;
        lock (_tasks) all = _tasks.ToArray();
        try
        {
            await Task.WhenAll(all).WaitAsync(TimeSpan.FromSeconds(10));   // a failed session fails the test here
        }
        finally
        {
            _root.Delete(recursive: true);   // and leaves no directory behind in /tmp
        }
    }
}
