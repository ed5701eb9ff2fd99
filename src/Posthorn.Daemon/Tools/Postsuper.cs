using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Tools;

/// <summary>postsuper(1): queue maintenance — delete, hold, release and requeue messages.</summary>
/// <remarks>
/// Flags as in Postfix: <c>-d ID|ALL|-</c>, <c>-h ID|ALL|-</c>, <c>-H ID|ALL|-</c>,
/// <c>-r ID|ALL|-</c>, each repeatable, then optional queue names that limit where they act
/// (defaults: -d and -r every message queue, -h incoming/active/deferred, -H hold).
/// Postfix postsuper: per message <c>ID: removed</c> (… <c>placed on hold</c>, <c>released
/// from hold</c>, <c>requeued</c>) and a summary <c>Deleted: N message(s)</c>; like msg_info(),
/// every line goes to standard error as <c>postsuper: …</c> and to the mail log.
/// DEVIATION: requeued mail goes to <c>incoming</c> (Postfix: <c>maildrop</c>, to be run through
/// cleanup again); postsuper does not insist on running as root; -p and -s are accepted and do
/// nothing (the flat queue needs no structure repair).
/// Exit: 0, or 1 after a fatal error (Postfix msg_fatal).
/// </remarks>
public static class Postsuper
{
    private const string Usage = "usage: postsuper [-c config_dir] [-d queue_id (delete)] [-h queue_id (hold)] " +
        "[-H queue_id (un-hold)] [-p (purge temporary files)] [-r queue_id (requeue)] [-s (structure fix)] [-v (verbose)] [queue...]";

    private enum Op { Delete, Hold, Release, Requeue }

    public static int Run(string[] args, ToolContext ctx, string queueDirectory, MailLog? log = null)
    {
        log ??= MailLog.Discard;
        var ops = new List<(Op Op, string Arg)>();
        int i = 0;
        for (; i < args.Length && args[i].Length > 1 && args[i][0] == '-'; i++)
        {
            string flag = args[i];
            if (flag == "--") { i++; break; }
            if (flag is "-p" or "-s" or "-S" or "-v") continue;
            if (flag is not ("-d" or "-h" or "-H" or "-r" or "-c") || i + 1 >= args.Length) return Fatal(ctx, Usage);
            string value = args[++i];
            if (flag == "-c") continue;   // the config directory is the caller's business
            ops.Add((flag switch { "-d" => Op.Delete, "-h" => Op.Hold, "-H" => Op.Release, _ => Op.Requeue }, value));
        }
        var queues = new List<QueueName>();
        for (; i < args.Length; i++)
        {
            if (!QueueNames.TryParse(args[i], out var q)) return Fatal(ctx, $"invalid directory name: {args[i]}");
            queues.Add(q);
        }

        var run = new Session(new QueueDirectory(queueDirectory), ctx, log);
        foreach (var op in new[] { Op.Delete, Op.Requeue, Op.Hold, Op.Release })
        {
            var mine = ops.Where(o => o.Op == op).Select(o => o.Arg).ToList();
            if (mine.Count == 0) continue;
            var where = queues.Count > 0 ? queues : DefaultQueues(op);
            if (mine.Contains("ALL"))
            {
                if (mine.Count > 1) run.Say($"warning: option \"-{Letter(op)} ALL\" will ignore other command line queue IDs");
                foreach (var q in where)
                    foreach (var id in run.Dir.List(q)) run.Apply(op, id, [q], quiet: true);   // Postfix: mass operations report only the summary
                continue;
            }
            foreach (string arg in mine)
            {
                IEnumerable<string> ids = arg == "-" ? ReadLines(ctx.In) : [arg];
                foreach (string text in ids)
                {
                    if (!QueueId.TryParse(text, out var id)) { run.Say($"warning: invalid mail queue id: {text}"); continue; }
                    run.Apply(op, id, where, quiet: false);
                }
            }
        }
        run.Summary("Requeued", run.Requeued);
        run.Summary("Deleted", run.Deleted);
        run.Summary("Placed on hold", run.Held);
        run.Summary("Released from hold", run.Released);
        return 0;
    }

    private static IReadOnlyList<QueueName> DefaultQueues(Op op) => op switch
    {
        Op.Hold => [QueueName.Incoming, QueueName.Active, QueueName.Deferred],
        Op.Release => [QueueName.Hold],
        _ => [QueueName.Maildrop, QueueName.Incoming, QueueName.Active, QueueName.Deferred, QueueName.Hold],
    };

    private static char Letter(Op op) => op switch { Op.Delete => 'd', Op.Hold => 'h', Op.Release => 'H', _ => 'r' };

    private static IEnumerable<string> ReadLines(TextReader reader)
    {
        while (reader.ReadLine() is { } line)
            if (line.Trim() is { Length: > 0 } id) yield return id;
    }

    private static int Fatal(ToolContext ctx, string text)
    {
        ctx.Err.WriteLine($"postsuper: fatal: {text}");
        return 1;
    }

    private sealed class Session(QueueDirectory dir, ToolContext ctx, MailLog log)
    {
        public QueueDirectory Dir { get; } = dir;
        public int Deleted, Held, Released, Requeued;

        public void Say(string text) => ctx.Err.WriteLine($"postsuper: {text}");

        /// <summary>Acts on the first queue in <paramref name="where"/> that holds the message.</summary>
        public void Apply(Op op, QueueId id, IReadOnlyList<QueueName> where, bool quiet)
        {
            foreach (var q in where)
            {
                if (!File.Exists(Dir.PathOf(q, id))) continue;
                string? done = op switch
                {
                    Op.Delete => Delete(id, q),
                    // Postfix: maildrop mail is not yet sanitized and must not be held; hold is already held.
                    Op.Hold when q is not (QueueName.Maildrop or QueueName.Hold) => MoveTo(id, q, QueueName.Hold, "placed on hold", ref Held),
                    Op.Release when q == QueueName.Hold => MoveTo(id, q, QueueName.Deferred, "released from hold", ref Released),
                    Op.Requeue when q != QueueName.Maildrop => Requeue(id, q),
                    _ => null,
                };
                if (done is null) continue;
                log.PostsuperAction(id, done);
                if (!quiet) Say($"{id}: {done}");
                return;
            }
        }

        public void Summary(string what, int n)
        {
            if (n == 0) return;
            string text = $"{what}: {n} message{(n > 1 ? "s" : "")}";
            log.PostsuperSummary(text);
            Say(text);
        }

        private string? Delete(QueueId id, QueueName q)
        {
            Dir.Remove(id, q);
            // The delay-warning marker next to the defer log goes with the message (qmgr removes it likewise).
            DelayWarningMarker.Remove(Dir, id);
            Deleted++;
            return "removed";
        }

        private string? MoveTo(QueueId id, QueueName from, QueueName to, string done, ref int counter)
        {
            try
            {
                Dir.Move(id, from, to);
            }
            catch (FileNotFoundException)
            {
                return null;   // lost a race with qmgr
            }
            counter++;
            return done;
        }

        private string? Requeue(QueueId id, QueueName from)
        {
            if (MoveTo(id, from, QueueName.Incoming, "requeued", ref Requeued) is null) return null;
            // Postfix requeue_one: reset the time stamps so that the queue manager sees it now.
            File.SetLastWriteTimeUtc(Dir.PathOf(QueueName.Incoming, id), ctx.Clock.GetUtcNow().UtcDateTime);
            return "requeued";
        }
    }
}
