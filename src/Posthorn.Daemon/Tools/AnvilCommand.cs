using Posthorn.Config;
using Posthorn.Daemon.Master;

namespace Posthorn.Daemon.Tools;

/// <summary><c>posthorn anvil [-c DIR]</c>: prints the running daemon's per-client activity view (Policy/AnvilRegistry.cs):
/// Postfix anvil(8)'s "statistics: max …" lines, then one row per (service, client) with the connections open now and
/// the connection, message, recipient and AUTH rates in the current anvil_rate_time_unit.</summary>
/// <remarks>A Posthorn extension: Postfix's anvil(8) only logs its statistics. The view comes over the control socket
/// (command <c>anvil</c>), so like <c>postfix status</c> it needs read access to queue_directory/private.
/// Exit status: 0, or 1 when the daemon is not running or the configuration does not load, 64 on a usage error.</remarks>
public static class AnvilCommand
{
    public static async Task<int> RunAsync(string[] args, ToolContext ctx)
    {
        string? dir = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "-c" && i + 1 < args.Length)
            {
                dir = args[++i];
                continue;
            }
            ctx.Err.WriteLine("posthorn/anvil: fatal: usage: anvil [-c config_dir]");
            return 64;
        }
        ConfigSnapshot cfg;
        try { cfg = ConfigSnapshot.Load(ctx.ConfigDirectory(dir)); }
        catch (ConfigException e)
        {
            ctx.Err.WriteLine($"posthorn/anvil: fatal: {e.Message}");
            return 1;
        }
        var reply = await ControlChannel.SendAsync(cfg.Get("queue_directory"), "anvil", CancellationToken.None);
        if (reply is null || !reply.StartsWith("ok ", StringComparison.Ordinal))
        {
            ctx.Err.WriteLine("posthorn/anvil: fatal: the Postfix mail system is not running");
            return 1;
        }
        foreach (string line in reply[3..].Split('\t')) ctx.Out.WriteLine(line);
        return 0;
    }
}
