namespace Posthorn.Core;

/// <summary>A queue ID in Postfix's short form: uppercase hex, 10 or more characters (for example 3F1A2B0C4D).</summary>
/// <remarks>Postfix builds it from the microseconds of the arrival time and the queue file's inode
/// number. Posthorn uses the microseconds (5 hex digits) followed by a per-process counter mixed
/// with the process id, so IDs are unique within one queue directory across restarts with
/// overwhelming probability; the queue writer still refuses to overwrite an existing file.</remarks>
public readonly record struct QueueId(string Value)
{
    public override string ToString() => Value;

    /// <summary>Queue file names are hex IDs only; anything else (a dot file, a temp file) is not a queue file.</summary>
    public static bool IsValid(ReadOnlySpan<char> text)
    {
        if (text.Length is < 6 or > 20) return false;
        foreach (var c in text)
            if (!char.IsAsciiHexDigitUpper(c) && !char.IsAsciiDigit(c)) return false;
        return true;
    }

    public static bool TryParse(string text, out QueueId id)
    {
        id = new QueueId(text);
        return IsValid(text);
    }
}

/// <summary>Makes queue IDs for one process; thread-safe.</summary>
public sealed class QueueIdGenerator(TimeProvider clock)
{
    // Seeded from the pid and randomness so two processes (daemon, sendmail) rarely collide.
    private long _counter = ((long)(Environment.ProcessId & 0xFFF) << 16) | (long)Random.Shared.Next(0x10000);

    /// <summary>5 hex digits of the arrival time's microseconds, then 7 of the counter: 12 characters.</summary>
    public QueueId Next()
    {
        long micros = clock.GetUtcNow().Ticks / 10 % 1_000_000;
        long n = Interlocked.Increment(ref _counter) & 0xFFFFFFF;
        return new QueueId($"{micros:X5}{n:X7}");
    }
}
