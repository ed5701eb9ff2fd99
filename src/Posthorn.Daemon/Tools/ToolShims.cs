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

    internal static int Newaliases(string[] args, ToolContext ctx) => Guard("newaliases", ctx, () =>
    {
        var cfg = Load(ref args, ctx);
        return Tools.Newaliases.Run(args, ctx, cfg.GetList("alias_database"));
    });
}
