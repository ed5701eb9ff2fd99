using System.Diagnostics;
using Posthorn.Config;
using Posthorn.Daemon.Master;

namespace Posthorn.Daemon.Tools;

/// <summary>postfix(1): <c>postfix [-c DIR] start | start-fg | stop | abort | reload | status | check | set-permissions | flush</c>.</summary>
/// <remarks><c>stop</c>, <c>reload</c>, <c>status</c> and <c>flush</c> reach the running daemon over its
/// control socket under queue_directory. Messages read as postfix-script's do.</remarks>
public static class PostfixCommand
{
    private const string Script = "posthorn/postfix-script";

    public static async Task<int> RunAsync(string[] args, ToolContext ctx)
    {
        string? dir = null;
        string? verb = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-c" when i + 1 < args.Length: dir = args[++i]; break;
                case "-v" or "-D": break;
                // posthorn extension: postfix explain … takes its own options (PostfixExplain.cs).
                case "explain" when verb is null:
                    return await PostfixExplain.RunAsync(args[(i + 1)..], ctx, ctx.ConfigDirectory(dir));
                default:
                    if (verb is not null || args[i].StartsWith('-'))
                    {
                        ctx.Err.WriteLine("postfix: fatal: usage: postfix [-c config_dir] [-Dv] command");
                        return 64;
                    }
                    verb = args[i];
                    break;
            }
        }
        string configDirectory = ctx.ConfigDirectory(dir);
        if (verb is null)
        {
            ctx.Err.WriteLine("postfix: fatal: usage: postfix [-c config_dir] [-Dv] command");
            return 64;
        }
        // Postfix postfix(1): check warns and, as root, fixes; set-permissions fixes ownership and modes.
        if (verb == "check") return PostfixCheck.Run(ctx, configDirectory, fix: Environment.IsPrivilegedProcess);
        if (verb == "set-permissions") return PostfixCheck.Run(ctx, configDirectory, fix: true);
        if (verb == "start-fg") return await MasterDaemon.RunAsync(configDirectory, ctx.Err);

        ConfigSnapshot cfg;
        try { cfg = ConfigSnapshot.Load(configDirectory); }
        catch (ConfigException e)
        {
            ctx.Err.WriteLine($"{Script}: fatal: {e.Message}");
            return 1;
        }
        string queue = cfg.Get("queue_directory");
        switch (verb)
        {
            case "start":
                return await StartAsync(ctx, configDirectory, queue);
            case "stop" or "abort":
                return await StopAsync(ctx, queue);
            case "reload":
            {
                if (await ControlChannel.SendAsync(queue, "status", CancellationToken.None) is null) return NotRunning(ctx);
                // Postfix master_vars.c: inet_interfaces/inet_protocols keep their start values (new and changed rows are bound).
                foreach (string w in ListenerRecord.Changes(cfg)) ctx.Err.WriteLine($"{Script}: warning: {w}");
                ctx.Err.WriteLine($"{Script}: refreshing the Postfix mail system");
                var reply = await ControlChannel.SendAsync(queue, "reload", CancellationToken.None);
                if (reply is "ok") return 0;
                ctx.Err.WriteLine($"{Script}: fatal: {reply?.Replace("error ", "") ?? "the Postfix mail system is not running"}");
                return 1;
            }
            case "status":
            {
                var reply = await ControlChannel.SendAsync(queue, "status", CancellationToken.None);
                if (reply is null || !reply.StartsWith("ok ", StringComparison.Ordinal)) return NotRunning(ctx, fatal: false);
                ctx.Err.WriteLine($"{Script}: the Postfix mail system is running: PID: {reply[3..]}");
                return 0;
            }
            case "flush":
                return await ControlChannel.SendAsync(queue, "flush", CancellationToken.None) is null ? NotRunning(ctx) : 0;
            default:
                ctx.Err.WriteLine($"postfix: fatal: unknown command: '{verb}'. Usage: postfix start|start-fg|stop|abort|reload|status|check|set-permissions|flush");
                return 64;
        }
    }

    private static int NotRunning(ToolContext ctx, bool fatal = true)
    {
        ctx.Err.WriteLine($"{Script}: {(fatal ? "fatal: " : "")}the Postfix mail system is not running");
        return 1;
    }

    /// <summary>Starts <c>start-fg</c> detached (its own session, stdin/stdout on /dev/null) and returns
    /// once the control socket answers, or reports the daemon's own error if it exits first.</summary>
    private static async Task<int> StartAsync(ToolContext ctx, string configDirectory, string queue)
    {
        if (await ControlChannel.SendAsync(queue, "status", CancellationToken.None) is not null)
        {
            ctx.Err.WriteLine($"{Script}: fatal: the Postfix mail system is already running");
            return 1;
        }
        int rc = PostfixCheck.Run(ctx, configDirectory);
        if (rc != 0) return rc;
        ctx.Err.WriteLine($"{Script}: starting the Postfix mail system");

        string errFile = Path.Combine(Path.GetTempPath(), $"posthorn-start-{Environment.ProcessId}-{Guid.NewGuid():N}.err");
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("f=$1; shift; exec setsid \"$@\" </dev/null >/dev/null 2>>\"$f\"");
        psi.ArgumentList.Add("sh");
        psi.ArgumentList.Add(errFile);
        foreach (var a in SelfCommand(ctx)) psi.ArgumentList.Add(a);
        foreach (var a in (string[])["postfix", "-c", Path.GetFullPath(configDirectory), "start-fg"]) psi.ArgumentList.Add(a);
        using var child = Process.Start(psi)!;

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        try
        {
            while (DateTime.UtcNow < deadline)
            {
                if (await ControlChannel.SendAsync(queue, "status", CancellationToken.None) is not null) return 0;
                // setsid(1) forks when it must; a clean exit of the child alone is no verdict.
                if (child.HasExited && (child.ExitCode != 0 || new FileInfo(errFile) is { Exists: true, Length: > 0 }))
                {
                    string why = File.Exists(errFile) ? File.ReadAllText(errFile).Trim() : "";
                    ctx.Err.WriteLine(why.Length > 0 ? why : $"{Script}: fatal: mail system startup failed");
                    return 1;
                }
                await Task.Delay(50);
            }
            ctx.Err.WriteLine($"{Script}: fatal: mail system startup timed out");
            return 1;
        }
        finally
        {
            File.Delete(errFile); // the daemon keeps its open descriptor; the name is not needed.
        }
    }

    private static async Task<int> StopAsync(ToolContext ctx, string queue)
    {
        var reply = await ControlChannel.SendAsync(queue, "status", CancellationToken.None);
        if (reply is null) return NotRunning(ctx);
        ctx.Err.WriteLine($"{Script}: stopping the Postfix mail system");
        await ControlChannel.SendAsync(queue, "stop", CancellationToken.None);
        int pid = int.TryParse(reply.AsSpan(3), out var p) ? p : 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (!IsAlive(pid)) return 0;
            await Task.Delay(50);
        }
        ctx.Err.WriteLine($"{Script}: fatal: the Postfix mail system did not stop in time");
        return 1;
    }

    private static bool IsAlive(int pid)
    {
        if (pid <= 0) return false;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>How to run this same program again: the apphost, or <c>dotnet posthorn.dll</c>.</summary>
    internal static IReadOnlyList<string> SelfCommand(ToolContext ctx)
    {
        string exe = ctx.ExecutablePath ?? "posthorn";
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
            return [exe, typeof(PostfixCommand).Assembly.Location.Replace("Posthorn.Daemon.dll", "posthorn.dll")];
        return [exe];
    }
}
