using System.Net.Sockets;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;

namespace Posthorn.Mua;

/// <summary>A second IMAP connection that sits in IDLE on the open folder (opened read-only, so it never changes
/// flags) and reports when the message count changes. Servers without IDLE are asked with NOOP.</summary>
/// <remarks>RFC 2177 §3: the client must re-issue IDLE at least every 29 minutes; we do so every 9.
/// MailKit's ImapClient is not shared between threads: this connection belongs to the watcher's task only.</remarks>
internal sealed class ImapWatcher : IDisposable
{
    private static readonly TimeSpan IdleRenewal = TimeSpan.FromMinutes(9);
    private static readonly TimeSpan NoopInterval = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    /// <param name="knownCount">The message count the reader shows: mail that arrives between the reader's SELECT and
    /// the watcher's own EXAMINE is no change of count the watcher could see, so its first count is compared with this
    /// one.</param>
    public static ImapWatcher Start(ImapUrl url, string password, ImapTrust trust, string folder, int knownCount, Action changed,
        Action<string> failed)
    {
        var w = new ImapWatcher();
        w._loop = Task.Run(() => w.RunAsync(url, password, trust, folder, knownCount, changed, failed));
        return w;
    }

    private async Task RunAsync(ImapUrl url, string password, ImapTrust trust, string folder, int knownCount, Action changed,
        Action<string> failed)
    {
        var ct = _stop.Token;
        try
        {
            using var client = new ImapClient { Timeout = 60_000, ServerCertificateValidationCallback = trust.Check };
            await client.ConnectAsync(url.Host, url.Port, url.Tls, ct);
            await client.AuthenticateAsync(url.User, password, ct);
            var inbox = folder == "INBOX" ? client.Inbox : await client.GetFolderAsync(folder, ct);
            await inbox.OpenAsync(FolderAccess.ReadOnly, ct);
            inbox.CountChanged += (_, _) => changed();
            if (inbox.Count != knownCount) changed();
            while (!ct.IsCancellationRequested)
            {
                if (client.Capabilities.HasFlag(ImapCapabilities.Idle))
                {
                    using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    done.CancelAfter(IdleRenewal);
                    await client.IdleAsync(done.Token, ct);
                }
                else
                {
                    await Task.Delay(NoopInterval, ct);
                    await client.NoOpAsync(ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopped by Dispose.
        }
        catch (Exception e) when (e is IOException or SocketException or ImapProtocolException or ImapCommandException
            or AuthenticationException or SslHandshakeException or ServiceNotConnectedException or OperationCanceledException or FolderNotFoundException)
        {
            failed($"IMAP IDLE stopped: {e.Message}");
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        // The loop ends at once on cancellation; do not hang the exit on a dead network.
        _loop.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
