using System.Net;
using System.Net.Sockets;
using Posthorn.Config;
using Posthorn.Imap;
using Posthorn.Imap.Auth;
using Posthorn.Pop3;

namespace Posthorn.Daemon.Master;

/// <summary>The Dovecot role: master.cf rows whose command is <c>imapd</c> or <c>pop3d</c>.</summary>
/// <remarks>Users log in with the accounts of <c>posthorn_passwd_file</c> (Dovecot's passwd-file
/// format, shared with SMTP AUTH) and are served the mailbox <c>imapd_mailbox</c> under their home.
/// One store serves every session, so sessions see each other's changes.
/// Parameters: posthorn_passwd_file, imapd_mailbox, imapd_disable_plaintext_auth,
/// imapd_max_literal_size, imapd_max_line_length, imapd_timeout, imapd_auth_failure_delay.</remarks>
public sealed partial class MasterDaemon
{
    private long _imapSessions;

    private static ImapSessionOptions ImapOptions(ConfigSnapshot cfg) => new()
    {
        DisablePlaintextAuth = cfg.GetBool("imapd_disable_plaintext_auth"),
        MaxLiteralSize = cfg.GetSize("imapd_max_literal_size"),
        MaxLineLength = (int)cfg.GetNumber("imapd_max_line_length"),
        Timeout = cfg.GetTime("imapd_timeout"),
        AuthFailureDelay = cfg.GetTime("imapd_auth_failure_delay"),
    };

    private async Task ServeMailboxAccessAsync(Listener listener, Socket client, CancellationToken ct)
    {
        var cfg = listener.Settings.Config;
        string passwdFile = cfg.Get("posthorn_passwd_file");
        using (client)
        {
            var stream = new NetworkStream(client, ownsSocket: false);
            var options = ImapOptions(cfg) with
            {
                RemoteEndPoint = (IPEndPoint?)client.RemoteEndPoint,
                LocalEndPoint = (IPEndPoint?)client.LocalEndPoint,
                SessionId = $"{Environment.ProcessId:X}{Interlocked.Increment(ref _imapSessions):X8}",
            };
            var users = new PasswdFileUserResolver(passwdFile, cfg.Get("imapd_mailbox"));
            try
            {
                if (listener.Service.Command == "pop3d")
                    await new Pop3ServerSession(stream, options, _store, users, Log, _clock).RunAsync(ct);
                else
                    await new ImapServerSession(stream, options, _store, users, Log, _clock).RunAsync(ct);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                Log.Info(listener.Service.Command, $"lost connection from {options.RemoteEndPoint}: {e.Message}");
            }
        }
    }
}
