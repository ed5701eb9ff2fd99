using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Master;

namespace Posthorn.Daemon.Tools;

/// <summary>postqueue(1): the user interface to the queue — list it (<c>-p</c>, <c>-j</c>) or ask the running
/// daemon to deliver now (<c>-f</c> all, <c>-i queue_id</c> one message, <c>-s site</c> one destination).</summary>
/// <remarks>
/// Postfix postqueue(1): exactly one of -f -i -j -p -s; <c>-c config_dir</c> and <c>-v</c> may come with it.
/// -f asks qmgr to flush everything (control command <c>flush</c>); -i and -s ask flush(8) to schedule deferred
/// mail (control commands <c>flush-id ID</c> and <c>flush-site SITE</c>, served by QmgrService.Flush.cs).
/// A site is a domain name or an address literal in [] (RFC 5321 §4.1.3), as in a recipient address.
/// Exit (sysexits.h): 0; EX_USAGE (64) for bad usage; EX_UNAVAILABLE (69) when the mail system is down.
/// DEVIATION: Postfix flushes a site only when it is listed in fast_flush_domains (per-destination logfiles);
/// Posthorn scans the deferred queue for the site's recipients, so any site can be flushed.
/// Security: any local user may list or flush the queue (Postfix authorized_mailq_users and
/// authorized_flush_users default to static:anyone); the control socket's directory mode decides who reaches it.
/// </remarks>
public static class Postqueue
{
    public const int ExUsage = 64;
    public const int ExUnavailable = 69;
    private const string Usage = "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site";
    private const string Down = "Cannot flush mail queue - mail system is down";

    /// <summary><c>posthorn postqueue ARGS</c>: reads main.cf (-c DIR or MAIL_CONFIG) and runs <see cref="RunAsync(string[], ToolContext, string)"/>.</summary>
    public static async Task<int> RunAsync(string[] args, ToolContext ctx)
    {
        ConfigSnapshot cfg;
        try { cfg = ToolShims.Load(ref args, ctx); }
        catch (ConfigException e) { ctx.Err.WriteLine($"postqueue: fatal: {e.Message}"); return 1; }
        return await RunAsync(args, ctx, cfg.Get("queue_directory"));
    }

    public static async Task<int> RunAsync(string[] args, ToolContext ctx, string queueDirectory)
    {
        char mode = '\0';
        string? value = null;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a.Length < 2 || a[0] != '-') return Fatal(ctx, ExUsage, Usage);
            for (int k = 1; k < a.Length; k++)
            {
                char c = a[k];
                if (c == 'v') continue;
                if (c is not ('f' or 'i' or 'j' or 'p' or 's')) return Fatal(ctx, ExUsage, Usage);
                // Postfix postqueue.c: "specify only one of -s -f -i -j or -p".
                if (mode != '\0') return Fatal(ctx, ExUsage, "specify only one of -s -f -i -j or -p");
                mode = c;
                if (c is 'i' or 's')
                {
                    if (k + 1 < a.Length) value = a[(k + 1)..];
                    else if (i + 1 < args.Length) value = args[++i];
                    else return Fatal(ctx, ExUsage, Usage);
                    break;
                }
            }
        }
        switch (mode)
        {
            case 'p':
                return Mailq.Run([], ctx, queueDirectory);
            case 'j':
                PostqueueJson.Write(ctx.Out, ctx.Err, queueDirectory);
                return 0;
            case 'f':
                return await SendAsync(ctx, queueDirectory, "flush");
            case 'i':
                if (!QueueId.TryParse(value!, out var id)) return Fatal(ctx, ExUsage, $"Invalid request: \"{value}\"");
                return await SendAsync(ctx, queueDirectory, "flush-id " + id.Value);
            case 's':
                if (!IsSite(value!)) return Fatal(ctx, ExUsage, $"Cannot flush mail queue - invalid destination: \"{value}\"");
                return await SendAsync(ctx, queueDirectory, "flush-site " + value);
            default:
                return Fatal(ctx, ExUsage, Usage);
        }
    }

    private static async Task<int> SendAsync(ToolContext ctx, string queueDirectory, string command)
    {
        var reply = await ControlChannel.SendAsync(queueDirectory, command, CancellationToken.None);
        if (reply is null) return Fatal(ctx, ExUnavailable, Down);
        if (reply.StartsWith("error ", StringComparison.Ordinal)) return Fatal(ctx, ExUnavailable, reply[6..]);
        return 0;
    }

    /// <summary>A destination as postqueue -s takes it: a host or domain name (letters, digits, hyphens, dots) or
    /// an address literal in brackets (RFC 5321 §4.1.3), at most 245 characters (the control socket reads one
    /// 256-byte command, "flush-site " included; a DNS name has at most 253).</summary>
    internal static bool IsSite(string site)
    {
        if (site.Length is 0 or > 245) return false;
        if (site[0] == '[') return site.Length > 2 && site[^1] == ']' && !site.AsSpan(1, site.Length - 2).ContainsAny('[', ']');
        foreach (string label in site.TrimEnd('.').Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-') return false;
            foreach (char c in label)
                if (!char.IsAsciiLetterOrDigit(c) && c != '-') return false;
        }
        return true;
    }

    private static int Fatal(ToolContext ctx, int status, string text)
    {
        ctx.Err.WriteLine($"postqueue: fatal: {text}");
        return status;
    }
}
