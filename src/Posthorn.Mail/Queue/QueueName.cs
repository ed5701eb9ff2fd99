namespace Posthorn.Mail.Queue;

/// <summary>The message queues, named as Postfix names its queue subdirectories.</summary>
public enum QueueName { Maildrop, Incoming, Active, Deferred, Hold, Corrupt }

/// <summary>Directory names of the queues, and parsing of the names tools accept on the command line.</summary>
public static class QueueNames
{
    /// <summary>Every message queue, in the order showq(8) and postsuper(1) walk them.</summary>
    public static IReadOnlyList<QueueName> All { get; } =
        [QueueName.Maildrop, QueueName.Incoming, QueueName.Active, QueueName.Deferred, QueueName.Hold, QueueName.Corrupt];

    /// <summary>The subdirectory name: <c>maildrop</c>, <c>incoming</c>, …</summary>
    public static string DirectoryName(this QueueName q) => q switch
    {
        QueueName.Maildrop => "maildrop",
        QueueName.Incoming => "incoming",
        QueueName.Active => "active",
        QueueName.Deferred => "deferred",
        QueueName.Hold => "hold",
        QueueName.Corrupt => "corrupt",
        _ => throw new ArgumentOutOfRangeException(nameof(q)),
    };

    public static bool TryParse(string name, out QueueName queue)
    {
        foreach (var q in All)
        {
            if (q.DirectoryName() == name) { queue = q; return true; }
        }
        queue = default;
        return false;
    }
}
