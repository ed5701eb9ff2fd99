using Posthorn.Config;
using Posthorn.Daemon.Master;

namespace Posthorn.Daemon.Tools;

/// <summary>Reads the configuration a queue or alias tool needs and hands it the values, so the
/// tools themselves stay independent of main.cf.</summary>
internal static class ToolShims
{
    /// <summary>Removes <c>-c DIR</c> (Postfix's config-directory flag) from the arguments and loads that config.</summary>
    internal static ConfigSnapshot Load(ref string[] args, ToolContext ctx, string flag = "-c")
    {
        string? dir = null;
        var rest = new List<string>(args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == flag && i + 1 < args.Length) dir = args[++i];
            else if (args[i].StartsWith(flag, StringComparison.Ordinal) && args[i].Length > flag.Length && flag.Length == 2)
                dir = args[i][flag.Length..];
            else rest.Add(args[i]);
        }
        args = [.. rest];
        return ConfigSnapshot.Load(ctx.ConfigDirectory(dir));
    }

    internal static int Guard(string tool, ToolContext ctx, Func<int> body)
    {
        try { return body(); }
        catch (ConfigException e)
        {
            ctx.Err.WriteLine($"{tool}: fatal: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ctx.Err.WriteLine($"{tool}: fatal: {e.Message}");
            return 75; // EX_TEMPFAIL
        }
    }

    internal static int Mailq(string[] args, ToolContext ctx) => Guard("mailq", ctx, () =>
    {
        var cfg = Load(ref args, ctx);
        return Tools.Mailq.Run(args, ctx, cfg.Get("queue_directory"));
    });

    /// <summary>postqueue(1): <c>-p</c> lists the queue, <c>-f</c> asks the daemon to flush it.</summary>
    internal static async Task<int> PostqueueAsync(string[] args, ToolContext ctx)
    {
        ConfigSnapshot cfg;
        try { cfg = Load(ref args, ctx); }
        catch (ConfigException e) { ctx.Err.WriteLine($"postqueue: fatal: {e.Message}"); return 1; }
        if (args.Contains("-p")) return Tools.Mailq.Run([], ctx, cfg.Get("queue_directory"));
        if (args.Contains("-f"))
        {
            var reply = await ControlChannel.SendAsync(cfg.Get("queue_directory"), "flush", CancellationToken.None);
            if (reply is null) { ctx.Err.WriteLine("postqueue: fatal: Queue report unavailable - mail system is down"); return 69; }
            return 0;
        }
        ctx.Err.WriteLine("postqueue: fatal: usage: postqueue -f | postqueue -p | postqueue -s site");
        return 64;
    }

    internal static int Postsuper(string[] args, ToolContext ctx) => Guard("postsuper", ctx, () =>
    {
        var cfg = Load(ref args, ctx);
        using var log = LogFactory.Open(cfg);
        return Tools.Postsuper.Run(args, ctx, cfg.Get("queue_directory"), log.Log);
    });

    internal static int Postcat(string[] args, ToolContext ctx) => Guard("postcat", ctx, () =>
    {
        var cfg = Load(ref args, ctx);
        return Tools.Postcat.Run(args, ctx, cfg.Get("queue_directory"));
    });

    /// <summary>sendmail(1) takes <c>-C config_file</c> (its directory is the config directory).</summary>
    internal static int Sendmail(string[] args, ToolContext ctx) => Guard("sendmail", ctx, () =>
    {
        string? dir = null;
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "-C" && i + 1 < args.Length) { dir = ConfigDirOf(args[++i]); }
            else if (args[i].StartsWith("-C", StringComparison.Ordinal) && args[i].Length > 2) dir = ConfigDirOf(args[i][2..]);
            else rest.Add(args[i]);
        }
        var cfg = ConfigSnapshot.Load(ctx.ConfigDirectory(dir));
        if (rest.Contains("-bp")) return Tools.Mailq.Run([], ctx, cfg.Get("queue_directory"));
        if (rest.Contains("-bi") || rest.Contains("-I")) return Newaliases([], ctx);
        int rc = Tools.Sendmail.Run([.. rest], ctx, cfg.Get("queue_directory"));
        // Wake the pickup service if the daemon runs; if it does not, the mail waits in maildrop.
        if (rc == 0) ControlChannel.SendAsync(cfg.Get("queue_directory"), "pickup", CancellationToken.None).AsTask().Wait(2000);
        return rc;
    });

    private static string ConfigDirOf(string path) => Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;

    internal static int Newaliases(string[] args, ToolContext ctx) => Guard("newaliases", ctx, () =>
    {
        var cfg = Load(ref args, ctx);
        return Tools.Newaliases.Run(args, ctx, cfg.GetList("alias_database"));
    });
}
