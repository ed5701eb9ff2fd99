using System.Net;
using System.Net.Sockets;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Lmtp;
using Posthorn.Logging;
using Posthorn.Mail.Auth;
using Posthorn.Mail.Delivery;

namespace Posthorn.Tests.Lmtp;

/// <summary>lmtpd on a loopback port with the daemon's real agent: users alice and bob in a passwd-file
/// (with this process's uid and gid), Maildirs under a temp directory.</summary>
public sealed class LmtpTestServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("posthorn-lmtp-");
    private int _sessions;

    public LmtpTestServer(long messageSizeLimit = 10_240_000)
    {
        Options = new LmtpSessionOptions
        {
            Hostname = "mail.example.test",
            Client = "127.0.0.1",
            MessageSizeLimit = messageSizeLimit,
            SpoolDirectory = Path.Combine(_root.FullName, "spool"),
        };
        int uid = (int)LibC.geteuid(), gid = (int)LibC.getegid();
        string passwd = Path.Combine(_root.FullName, "passwd");
        File.WriteAllText(passwd, $"alice:{{PLAIN}}secret:{uid}:{gid}::{Home("alice")}::\n"
            + $"bob:{{PLAIN}}hunter2:{uid}:{gid}::{Home("bob")}::\n"
            + $"nohome:{{PLAIN}}x:{uid}:{gid}::::\n");
        Log = new MailLog(LogSink, "postfix", "mail.example.test", TimeProvider.System, 4242);
        // home_mailbox = Maildir/: local(8) and so lmtpd deliver to the Maildir under the home.
        var local = new LocalDeliveryOptions { MyHostname = "mail.example.test", HomeMailbox = "Maildir/", MailboxSizeLimit = 51_200_000 };
        Agent = new LmtpMailboxAgent(new PasswdFile(passwd), new LocalTransport(local, new PasswdUserDatabase(), TimeProvider.System, Log),
            local, "Maildir/", new QueueIdGenerator(TimeProvider.System), Log);
        _listener.Start();
        _tasks.Add(AcceptAsync());
    }

    public LmtpSessionOptions Options { get; }
    public LmtpMailboxAgent Agent { get; }
    public MemoryLogSink LogSink { get; } = new();
    public MailLog Log { get; }
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public string SpoolDirectory => Options.SpoolDirectory;

    public string Home(string user) => Path.Combine(_root.FullName, user);

    public string Maildir(string user) => Path.Combine(Home(user), "Maildir");

    /// <summary>The files delivered to new/ of the user's Maildir (none when it does not exist).</summary>
    public string[] NewFiles(string user)
    {
        string dir = Path.Combine(Maildir(user), "new");
        return Directory.Exists(dir) ? Directory.GetFiles(dir) : [];
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var options = Options with { SessionId = $"S{Interlocked.Increment(ref _sessions)}T" };
            var session = new LmtpServerSession(new NetworkStream(s, ownsSocket: true), options, Agent, Log, TimeProvider.System);
            lock (_tasks) _tasks.Add(session.RunAsync(_stop.Token));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Task[] all;
        lock (_tasks) all = _tasks.ToArray();
        await Task.WhenAll(all).WaitAsync(TimeSpan.FromSeconds(10));
        _root.Delete(recursive: true);
    }
}
