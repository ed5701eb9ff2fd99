using System.Net;
using System.Net.Sockets;
using Posthorn.Config;
using Posthorn.Daemon.Qmgr;
using Posthorn.Daemon.Smtpd;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Master;

public sealed partial class MasterDaemon
{
    private SmtpdConnectionGate? _smtpdGate;
    private SmtpdConnectionGate SmtpdGate => LazyInitializer.EnsureInitialized(ref _smtpdGate, () => new SmtpdConnectionGate(_clock)
    {
        // posthorn anvil: one daemon-wide activity view (Policy/AnvilRegistry.cs), anvil_rate_time_unit as at start.
        Activity = new Posthorn.Daemon.Policy.AnvilRegistry(_clock, _settings.Config.GetTime("anvil_rate_time_unit")),
    });
    private async Task AcceptLoopAsync(Listener listener, Transports transports, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.Socket.AcceptAsync(ct); }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException) when (listener.IsClosed) { break; }   // reload closed it: its row is gone
            catch (SocketException e)
            {
                Log.Warning("master", $"accept on {listener.Service.Name}: {e.Message}");
                continue;
            }
            _ = listener.Service.Command == "smtpd"
                ? Task.Run(() => ServeSmtpAsync(listener, client, transports, ct), CancellationToken.None)
                : Task.Run(() => ServeMailboxAccessAsync(listener, client, ct), CancellationToken.None);
        }
    }

    /// <summary>One smtpd session, with the settings snapshot in force when it was accepted.</summary>
    private async Task ServeSmtpAsync(Listener listener, Socket client, Transports transports, CancellationToken ct)
    {
        var settings = listener.Settings;
        using (client)
        await using (var stream = new NetworkStream(client, ownsSocket: false))
        {
            client.NoDelay = true;
            var remote = (IPEndPoint)client.RemoteEndPoint!;
            var info = new SmtpSessionInfo
            {
                Client = remote,
                ClientName = await ReverseNameAsync(remote.Address, ct),
                ServiceName = listener.Service.Name,
            };
            // Postfix smtpd_forbid_bare_newline (3.9) exempts smtpd_forbid_bare_newline_exclusions = $mynetworks.
            var protocol = SmtpdProtocolSettings.From(settings.Config, settings.MyNetworks);
            var options = settings.Smtpd with { AllowBareLf = protocol.AllowsBareLf(remote.Address) };
            var sink = new SmtpdSink(settings, _queue, _ids, transports.Local(settings), Log, _clock, id => _qmgr.Wake()) { Activity = SmtpdGate.Activity, Qmgr = _qmgr };
            if (options.Authenticator is PasswordDatabaseAuthenticator auth) auth.Activity = SmtpdGate.Activity;
            // posthorn_max_smtpd_connections and smtpd_client_connection_count/rate_limit (SmtpdConnectionGate).
            // A row's -o syslog_name names its smtpd lines (postfix/submission/smtpd); cleanup keeps the main name.
            var sessionLog = Log.WithSyslogName(settings.Config.Get("syslog_name"));
            if (!await SmtpdGate.TryAdmitAsync(settings.Config, info, stream, sessionLog, options.Timeout)) return;
            try
            {
                await new SmtpServerSession(stream, info, options, sink, sessionLog, _clock)
                {
                    BareNewline = protocol.BareNewline, BareNewlineRejectCode = protocol.BareNewlineRejectCode,
                    PregreetAction = protocol.PregreetAction, PregreetWait = protocol.PregreetWait, PendingInput = () => client.Available,
                    SoftBounce = settings.Config.GetBool("soft_bounce"),
                }.RunAsync(ct);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // C15: the one boundary per session. The engine reports client behaviour itself;
                // what reaches here is the connection failing under it.
                sessionLog.Info("smtpd", $"lost connection from {info.ClientDescription}: {e.Message}");
            }
            finally
            {
                SmtpdGate.Release(info.ServiceName, remote.Address);
            }
        }
    }

    private Smtpd.ClientNameLookup? _clientNames;

    /// <summary>The client's name as Postfix smtpd finds it (Smtpd/ClientNameLookup.cs): /etc/hosts, then DNS, confirmed
    /// by a forward lookup; otherwise "unknown". The resolver is the one of the settings in force at the first session.</summary>
    private Task<string> ReverseNameAsync(IPAddress address, CancellationToken ct) =>
        (_clientNames ??= new Smtpd.ClientNameLookup(_settings.Outbound.DnsServers, TimeSpan.FromSeconds(5))).NameAsync(address, ct).AsTask();

    private async Task<string> HandleControlAsync(string command)
    {
        switch (command)
        {
            case "status":
                return $"ok {Environment.ProcessId}";
            case "stop":
                Stop("terminating on signal 15");
                return "ok";
            case "reload":
                return await ReloadAsync();
            case "flush":
                _qmgr.Flush();
                return "ok";
            case "pickup":
                _pickup.Wake();
                return "ok";
            // postqueue -i ID / -s SITE (Postfix flush(8) requests; QmgrService.Flush.cs).
            case not null when command.StartsWith("flush-id ", StringComparison.Ordinal):
                return Posthorn.Core.QueueId.TryParse(command[9..], out var flushId) ? (_qmgr.FlushQueueId(flushId) ? "ok" : "ok none") : "error Invalid request";
            case not null when command.StartsWith("flush-site ", StringComparison.Ordinal):
                return $"ok {_qmgr.FlushSite(command[11..])}";
            case "anvil":
                // posthorn anvil: the reply is one line, so the view's lines travel tab-separated.
                return "ok " + string.Join('\t', SmtpdGate.Activity!.Snapshot().Format(_clock.LocalTimeZone));
            default:
                return "error unknown command";
        }
    }
}
