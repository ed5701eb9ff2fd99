using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Pickup;
using Posthorn.Daemon.Qmgr;
using Posthorn.Daemon.Smtpd;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Queue;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Master;

/// <summary>master(8): one process hosting every service master.cf lists (DESIGN.md decision 1).</summary>
/// <remarks>
/// Starts the smtpd listeners, pickup, qmgr and the control socket; <c>reload</c> swaps the
/// configuration snapshot (open sessions keep theirs) and binds or closes listeners as master.cf now says
/// (MasterDaemon.Reload.cs); <c>stop</c> or SIGTERM ends it.
/// Security: binds the listeners first; sessions with the network never see anything but their
/// snapshot and the sink. Parameters: queue_directory, maillog_file, syslog_name, inet_interfaces,
/// and everything the services read.
/// </remarks>
public sealed partial class MasterDaemon : IAsyncDisposable
{
    public const string Version = "0.1";

    private readonly string _configDirectory;
    private readonly TimeProvider _clock = TimeProvider.System;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Listener> _listeners = [];
    private readonly List<Task> _tasks = [];
    private readonly QueueIdGenerator _ids;
    private LogFactory _logFactory;
    private volatile Settings _settings;
    private QueueDirectory _queue;
    private QmgrService _qmgr = null!;
    private PickupService _pickup = null!;
    private FileStream? _lock;
    private readonly Posthorn.Store.Maildir.MaildirStore _store;
    private string _stopReason = "terminating on request";
    private Transports _transports = null!;

    /// <summary>One bound socket of a master.cf service; <see cref="Service"/> and <see cref="Settings"/> are
    /// swapped by reload, which also closes the listener when its row is gone (MasterDaemon.Reload.cs).</summary>
    private sealed class Listener(MasterService service, Socket socket, Settings settings, string address)
    {
        private volatile Settings _settings = settings;
        private volatile MasterService _service = service;
        private volatile bool _closed;
        public MasterService Service { get => _service; set => _service = value; }
        public Socket Socket { get; } = socket;
        public Settings Settings { get => _settings; set => _settings = value; }

        /// <summary>What the socket is bound to: <c>127.0.0.1:2525</c>, or the path of a unix row's socket.</summary>
        public string Address { get; } = address;
        public bool IsClosed => _closed;

        /// <summary>Stops accepting: new connections are refused, sessions already accepted go on.</summary>
        public void Close()
        {
            _closed = true;
            Socket.Dispose();
            // Postfix master(8): a unix service's socket goes with its row.
            if (Service.Type == "unix") File.Delete(Address);
        }
    }

    private MasterDaemon(string configDirectory, ConfigSnapshot cfg, LogFactory logs)
    {
        _configDirectory = configDirectory;
        _logFactory = logs;
        _ids = new QueueIdGenerator(_clock);
        _queue = new QueueDirectory(cfg.Get("queue_directory"));
        _settings = Settings.From(cfg, logs.Log);
        _store = new Posthorn.Store.Maildir.MaildirStore(_clock, cfg.Get("myhostname"), Environment.ProcessId);
    }

    private MailLog Log => _logFactory.Log;

    /// <summary><c>postfix start-fg</c>: runs until stopped; the exit code is the process's.</summary>
    public static async Task<int> RunAsync(string configDirectory, TextWriter err)
    {
        ConfigSnapshot cfg;
        try { cfg = ConfigSnapshot.Load(configDirectory); }
        catch (ConfigException e)
        {
            err.WriteLine($"posthorn/master: fatal: {e.Message}");
            return 1;
        }
        var logs = LogFactory.Open(cfg, preferStderr: true);
        await using var daemon = new MasterDaemon(configDirectory, cfg, logs);
        return await daemon.RunAsync(err);
    }

    private async Task<int> RunAsync(TextWriter err)
    {
        var users = new PasswdUserDatabase();
        try
        {
            _queue.EnsureCreated();
            if (!TryLock(err)) return 1;
            _queue.RecycleSpentFiles();   // this process alone writes the queue's new files from now on
            BindListeners(_settings.Config);
            _startedAs = _settings.Config;   // inet_interfaces, inet_protocols: kept until a restart
            _droppedPrivileges = Privileges.IsRoot;
            if (Privileges.DropToMailOwner(_settings.Config, users, Log) is { } problem)
                throw new IOException(problem);
            _droppedPrivileges &= !Privileges.IsRoot;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SocketException or ConfigException)
        {
            Log.Fatal("master", e.Message);
            err.WriteLine($"posthorn/master: fatal: {e.Message}");
            return 1;
        }

        // smtpd's local_recipient_maps check and local(8) ask for the same accounts message after message.
        var transports = new Transports(new RecentUsers(users, TimeSpan.FromSeconds(1)), Log, _clock);
        _transports = transports;
        _qmgr = new QmgrService(() => _settings, _queue, _ids, transports, Log, _clock);
        _pickup = new PickupService(() => _settings, _queue, _ids, Log, _clock, _ => _qmgr.Wake());

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Stop("terminating on signal 15"); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; Stop("terminating on signal 2"); });
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; _ = ReloadAsync(); });

        var ct = _stop.Token;
        _tasks.Add(_qmgr.RunAsync(ct));
        _tasks.Add(_pickup.RunAsync(ct));
        _tasks.Add(ControlChannel.ServeAsync(_queue.Root, HandleControlAsync, ct));
        lock (_listeners) foreach (var l in _listeners) _tasks.Add(AcceptLoopAsync(l, transports, ct));
        File.WriteAllText(ControlChannel.PidPath(_queue.Root), $"{Environment.ProcessId,10}\n");
        ListenerRecord.Write(_queue.Root, _settings.Config); // for postfix check/reload: inet_interfaces needs a restart
        Log.Info("master", $"daemon started -- version {Version}, configuration {_configDirectory}");

        try { await Task.Delay(Timeout.Infinite, ct); }
        catch (OperationCanceledException) { /* stop requested */ }
        Log.Info("master", _stopReason);
        Task all;
        lock (_listeners)
        {
            foreach (var l in _listeners) l.Socket.Dispose();
            all = Task.WhenAll(_tasks);
        }
        await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10)));
        File.Delete(ControlChannel.PidPath(_queue.Root));
        ListenerRecord.Delete(_queue.Root);
        return 0;
    }

    public void Stop(string reason)
    {
        _stopReason = reason;
        _stop.Cancel();
    }

    /// <summary>Only one master per queue directory: an exclusive flock(2) on pid/master.lock, taken here rather than
    /// through FileShare.None, because posthorn turns .NET's flock emulation of FileShare off
    /// (System.IO.DisableFileLocking in posthorn.csproj).</summary>
    private bool TryLock(TextWriter err)
    {
        string dir = Path.GetDirectoryName(ControlChannel.PidPath(_queue.Root))!;
        Directory.CreateDirectory(dir);
        try
        {
            _lock = new FileStream(Path.Combine(dir, "master.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
            if (flock(_lock.SafeFileHandle, LOCK_EX | LOCK_NB) == 0) return true;
            _lock.Dispose();
            _lock = null;
        }
        catch (IOException)
        {
            // The emulation (where it is on, as in the tests' host) refused even the open.
        }
        err.WriteLine("posthorn/master: fatal: the Postfix mail system is already running");
        return false;
    }

    private const int LOCK_EX = 2, LOCK_NB = 4;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(Microsoft.Win32.SafeHandles.SafeFileHandle fd, int operation);

    private void BindListeners(ConfigSnapshot cfg)
    {
        foreach (var svc in cfg.Master.Services)
        {
            if (TryBindMailboxService(svc, cfg)) continue;   // imapd, pop3d, lmtpd: MasterDaemon.Imap.cs
            if (svc.Type != "inet") continue;
            if (svc.Command is not "smtpd")
            {
                Log.Warning("master", $"{svc.Name}/{svc.Type}: service command {svc.Command} is not available yet; not listening");
                continue;
            }
            var settings = svc.Overrides.Count == 0 ? _settings : Settings.From(cfg.WithOverrides(svc.Overrides), Log);
            foreach (var endPoint in svc.ResolveEndPoints(cfg))
            {
                var socket = ListenSocket.Bind(endPoint);
                _listeners.Add(new Listener(svc, socket, settings, endPoint.ToString()));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        lock (_listeners) foreach (var l in _listeners) l.Socket.Dispose();
        _lock?.Dispose();
        _logFactory.Dispose();
        _stop.Dispose();
        await Task.CompletedTask;
    }
}
