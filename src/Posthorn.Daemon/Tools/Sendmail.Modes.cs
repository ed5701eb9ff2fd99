using Posthorn.Config;
using Posthorn.Daemon.Master;

namespace Posthorn.Daemon.Tools;

/// <summary>sendmail(1) as a command: <c>-C</c> chooses the configuration, then each mode goes where Postfix sends it
/// (-bp to postqueue -p, -q to postqueue -f/-s/-i, -I and -bi to newaliases, -bs to a stand-alone smtpd, -bv to the
/// verify report, the default to maildrop and pickup).</summary>
public static partial class Sendmail
{
    /// <summary><c>posthorn sendmail ARGS</c> and the <c>sendmail</c> wrapper; the exit status as sendmail(1) gives it.</summary>
    public static async Task<int> RunToolAsync(string[] args, ToolContext ctx)
    {
        // Postfix sendmail(1) -C: "The path name of the Postfix main.cf file, or of its parent directory."
        string? dir = null;
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "-C" && i + 1 < args.Length) dir = ConfigDirOf(args[++i]);
            else if (args[i].StartsWith("-C", StringComparison.Ordinal) && args[i].Length > 2) dir = ConfigDirOf(args[i][2..]);
            else rest.Add(args[i]);
        }
        ConfigSnapshot cfg;
        try { cfg = ConfigSnapshot.Load(ctx.ConfigDirectory(dir)); }
        catch (ConfigException e)
        {
            ctx.Err.WriteLine($"sendmail: fatal: {e.Message}");
            return ExTempFail;
        }
        if (!TryParse([.. rest], ctx, out var r, out int status)) return status;
        string queue = cfg.Get("queue_directory");
        try
        {
            switch (r.Mode)
            {
                case 'p':
                    return Mailq.Run([], ctx, queue);
                case 'i':
                    return Newaliases.Run([], ctx, cfg.GetList("alias_database"));
                case 'n':
                    return 0;
                case 'q':
                    // Postfix sendmail(1): -q, -qR and -qI are "implemented by executing the postqueue(1) command".
                    string[] flush = r.FlushSite is { } site ? ["-s", site] : r.FlushId is { } id ? ["-i", id] : ["-f"];
                    return await Postqueue.RunAsync(flush, ctx, queue);
                case 's':
                    return await StandAloneSmtpAsync(ctx, cfg);
                case 'v':
                    return await VerifyAsync(ctx, cfg, r);
            }
            if (r.Recipients.Count == 0 && !r.Extract)
                return Usage(ctx, "Recipient addresses must be specified on the command line or via the -t option");
            int rc = await EnqueueAsync(ctx, queue, r);
            if (rc == 0) await WakePickupAsync(queue);
            return rc;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ctx.Err.WriteLine($"sendmail: fatal: {e.Message}");
            return ExTempFail;
        }
    }

    /// <summary>Postfix postdrop(1) triggers pickup(8); when no daemon runs, the mail waits in maildrop.</summary>
    private static async Task WakePickupAsync(string queueDirectory)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try { await ControlChannel.SendAsync(queueDirectory, "pickup", timeout.Token); }
        catch (OperationCanceledException) { /* pickup also polls once a second */ }
    }

    private static string ConfigDirOf(string path) => Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
}
