using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Posthorn.Config;
using Posthorn.Mail.Delivery;

namespace Posthorn.Daemon.Master;

/// <summary>master(8) reload: main.cf and master.cf are read again and the listeners follow master.cf.</summary>
/// <remarks>
/// Postfix master(8): on <c>postfix reload</c> the master rereads its configuration, starts the services of new
/// master.cf rows, stops the services whose rows are gone, and a changed row is served by new processes. Here a
/// listener is one socket of one row, named by (service name, type, command, bound address): a row that still
/// names the same socket keeps it, with the new row and settings, and its certificate files read again (new TLS
/// sessions get a renewed certificate, as new Postfix smtpd and Dovecot login processes do); a socket no row names
/// any more is closed (sessions already accepted finish with their snapshot, new connections are refused); an
/// address no listener has yet is bound and served. Sockets are closed before new ones are bound, so a port can
/// move from one row to another in one reload.
/// A bind that fails (port in use, privileged port) is a warning and the reload goes on: Postfix's child logs a
/// fatal for its service, and its master keeps running.
/// inet_interfaces and inet_protocols keep the values the master started with (Postfix master_vars.c: "ignoring
/// inet_interfaces change"); <see cref="ListenerRecord"/> says so to <c>postfix check</c> and <c>postfix reload</c>.
/// Security: after the drop to mail_owner, the configuration, certificates and keys are read, and a port below
/// 1024 is bound, on a dedicated thread that raises itself to the saved root and lowers itself again
/// (<see cref="UserFileThreads"/>), as Postfix's master and its children read and bind as root. Network threads
/// never hold root.
/// </remarks>
public sealed partial class MasterDaemon
{
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private bool _droppedPrivileges;
    private ConfigSnapshot? _startedAs;

    /// <summary>A master.cf row that has listeners: its settings, certificate and the addresses it wants.</summary>
    private sealed record Row(MasterService Service, Settings Settings,
        (X509Certificate2? Cert, X509Certificate2Collection? Chain) Tls, IReadOnlyList<(string Address, IPEndPoint? Inet)> Addresses);

    private sealed record Reloaded(ConfigSnapshot Config, Settings Settings, IReadOnlyList<Row> Rows);

    private static string Key(MasterService svc, string address) => $"{svc.Name}/{svc.Type}/{svc.Command} {address}";

    /// <summary>Reads main.cf and master.cf again; new sessions get the new snapshot, open ones keep theirs, and the
    /// listeners follow master.cf. A configuration that does not load leaves the running one in place.</summary>
    private async Task<string> ReloadAsync()
    {
        await _reloading.WaitAsync();
        try
        {
            Reloaded next;
            try { next = await AsRootAsync(ReadConfiguration); }
            catch (ConfigException e)
            {
                Log.Error("master", $"reload failed: {e.Message}");
                return $"error {e.Message}";
            }
            _settings = next.Settings;
            await RefreshListenersAsync(next.Rows);
            ListenerRecord.Write(_queue.Root, next.Config);
            Log.Reconfigure(next.Config.Get("syslog_name"), next.Config.Get("myhostname"));
            Log.Info("master", $"reload -- version {Version}, configuration {_configDirectory}");
            _qmgr.Wake();
            return "ok";
        }
        finally
        {
            _reloading.Release();
        }
    }

    /// <summary>The new snapshot, its settings, and every row that listens, with its certificate read now.</summary>
    private Reloaded ReadConfiguration()
    {
        var cfg = KeepListenerParameters(ConfigSnapshot.Load(_configDirectory));
        var fresh = Settings.From(cfg, Log);
        var rows = new List<Row>();
        foreach (var svc in cfg.Master.Services)
        {
            bool mailbox = IsMailboxService(svc);
            if (!mailbox && !(svc.Type == "inet" && svc.Command == "smtpd")) continue;
            IReadOnlyList<(string, IPEndPoint?)> addresses;
            try
            {
                addresses = svc.Type == "unix"
                    ? [(UnixSocketPath(svc, cfg), null)]
                    : [.. svc.ResolveEndPoints(cfg).Select(e => (e.ToString(), (IPEndPoint?)e))];
            }
            catch (ConfigException e)
            {
                Log.Warning("master", $"{svc.Name}/{svc.Type}: {e.Message}; not listening");
                continue;
            }
            var rowCfg = svc.Overrides.Count == 0 ? cfg : cfg.WithOverrides(svc.Overrides);
            var settings = svc.Overrides.Count == 0 ? fresh : Settings.From(rowCfg, Log);
            rows.Add(new Row(svc, settings, mailbox ? MailboxCertificate(svc, rowCfg) : (null, null), addresses));
        }
        return new Reloaded(cfg, fresh, rows);
    }

    /// <summary>Postfix master_vars.c: a changed inet_interfaces or inet_protocols is ignored until a stop and start.</summary>
    private ConfigSnapshot KeepListenerParameters(ConfigSnapshot cfg)
    {
        if (_startedAs is not { } started) return cfg;
        var kept = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in ListenerRecord.Names)
        {
            if (string.Equals(string.Join(", ", cfg.GetList(name)), string.Join(", ", started.GetList(name)), StringComparison.OrdinalIgnoreCase))
                continue;
            Log.Warning("master", $"ignoring {name} change");
            Log.Warning("master", $"to change {name}, stop and start Postfix");
            kept[name] = started.Get(name);
        }
        return kept.Count == 0 ? cfg : cfg.WithOverrides(kept);
    }

    /// <summary>Keeps, closes and binds listeners so that they match <paramref name="rows"/>.</summary>
    private async Task RefreshListenersAsync(IReadOnlyList<Row> rows)
    {
        var wanted = new Dictionary<string, (Row Row, IPEndPoint? Inet, string Address)>(StringComparer.Ordinal);
        foreach (var row in rows)
            foreach (var (address, inet) in row.Addresses)
                wanted.TryAdd(Key(row.Service, address), (row, inet, address));

        lock (_listeners)
        {
            foreach (var l in _listeners.ToArray())
            {
                if (wanted.Remove(Key(l.Service, l.Address), out var keep))
                {
                    l.Service = keep.Row.Service;
                    l.Settings = keep.Row.Settings;
                    if (IsMailboxService(keep.Row.Service)) _mailboxTls[l] = keep.Row.Tls;
                    continue;
                }
                l.Close();
                _listeners.Remove(l);
                _mailboxTls.TryRemove(l, out _);
            }
        }

        foreach (var (row, inet, address) in wanted.Values)
        {
            Socket socket;
            try { socket = inet is null ? BindUnixSocket(address) : await BindInetAsync(inet); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.Warning("master", $"{row.Service.Name}/{row.Service.Type}: {e.Message}");
                continue;
            }
            var listener = new Listener(row.Service, socket, row.Settings, address);
            lock (_listeners)
            {
                if (_stop.IsCancellationRequested)
                {
                    socket.Dispose();
                    continue;
                }
                _listeners.Add(listener);
                if (IsMailboxService(row.Service)) _mailboxTls[listener] = row.Tls;
                _tasks.Add(AcceptLoopAsync(listener, _transports, _stop.Token));
            }
        }
    }

    /// <summary>Binds an inet address; a port below 1024 that mail_owner may not bind is bound by the saved root.</summary>
    private async Task<Socket> BindInetAsync(IPEndPoint endPoint)
    {
        try { return ListenSocket.Bind(endPoint); }
        catch (IOException e) when (_droppedPrivileges && endPoint.Port < 1024
            && e.InnerException is SocketException { SocketErrorCode: SocketError.AccessDenied })
        {
            // DESIGN.md decision 6: only root binds ports below 1024; a raised thread binds, then lowers itself.
            return await UserFileThreads.RunAsync(0, 0, () => ValueTask.FromResult(ListenSocket.Bind(endPoint)));
        }
    }

    /// <summary>Runs <paramref name="work"/> as root when the daemon dropped to mail_owner (saved root on a
    /// dedicated thread), else on the calling thread.</summary>
    private Task<T> AsRootAsync<T>(Func<T> work) =>
        _droppedPrivileges ? UserFileThreads.RunAsync(0, 0, () => ValueTask.FromResult(work())) : Task.FromResult(work());
}
