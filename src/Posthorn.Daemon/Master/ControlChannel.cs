using System.Net.Sockets;
using System.Text;

namespace Posthorn.Daemon.Master;

/// <summary>The master's control socket: one command line in, one reply line out.</summary>
/// <remarks>
/// Lives at <c>$queue_directory/private/control</c> (mode 0700 directory, as Postfix's private/),
/// so only the mail system's owner can stop or reload it. Commands: <c>status</c>, <c>stop</c>,
/// <c>reload</c>, <c>flush</c>, <c>pickup</c>, <c>anvil</c> (the per-client view, lines tab-separated). Replies start
/// with <c>ok</c> or <c>error</c>.
/// </remarks>
public static class ControlChannel
{
    public static string SocketPath(string queueDirectory) => Path.Combine(queueDirectory, "private", "control");
    public static string PidPath(string queueDirectory) => Path.Combine(queueDirectory, "pid", "master.pid");

    /// <summary>Sends one command; null when no daemon answers.</summary>
    public static async ValueTask<string?> SendAsync(string queueDirectory, string command, CancellationToken ct)
    {
        string path = SocketPath(queueDirectory);
        if (!File.Exists(path)) return null;
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), timeout.Token);
            await socket.SendAsync(Encoding.ASCII.GetBytes(command + "\n"), timeout.Token);
            var buffer = new byte[512];
            var reply = new StringBuilder();
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, timeout.Token);
                if (n == 0) break;
                reply.Append(Encoding.ASCII.GetString(buffer, 0, n));
                if (reply.ToString().Contains('\n')) break;
            }
            return reply.ToString().TrimEnd('\n');
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            return null;
        }
    }

    /// <summary>Serves the control socket until <paramref name="ct"/> is cancelled.</summary>
    public static async Task ServeAsync(string queueDirectory, Func<string, Task<string>> handle, CancellationToken ct)
    {
        string path = SocketPath(queueDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.SetUnixFileMode(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.Delete(path);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(16);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                Socket client;
                try { client = await listener.AcceptAsync(ct); }
                catch (OperationCanceledException) { break; }
                _ = Task.Run(() => HandleAsync(client, handle, ct), CancellationToken.None);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task HandleAsync(Socket client, Func<string, Task<string>> handle, CancellationToken ct)
    {
        using (client)
        {
            try
            {
                var buffer = new byte[256];
                int n = await client.ReceiveAsync(buffer, ct);
                string command = Encoding.ASCII.GetString(buffer, 0, n).Trim();
                string reply = await handle(command);
                await client.SendAsync(Encoding.ASCII.GetBytes(reply + "\n"), CancellationToken.None);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // The tool went away before the reply: nothing is left to tell it.
            }
        }
    }
}
