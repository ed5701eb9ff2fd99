using System.Text;
using Posthorn.Core;

namespace Posthorn.Mail.Queue;

/// <summary>One line of a defer log: why delivery to a recipient was deferred.</summary>
public sealed record DeferLogEntry(string Recipient, EnhancedStatus Dsn, string Reason);

/// <summary>Postfix's <c>defer/ID</c> logfile: the reason for each deferred recipient, which mailq
/// shows in parentheses and the delayed-mail and bounce notices quote.</summary>
/// <remarks>
/// Format (Posthorn's own): one UTF-8 line per deferral, appended with O_APPEND,
/// <c>recipient TAB dsn TAB reason LF</c>. Tabs, CR and LF inside a field become spaces.
/// Later lines win: a recipient deferred twice shows the latest reason. qmgr removes the
/// log when a message starts a new delivery round (<see cref="Remove"/>), as Postfix qmgr does.
/// </remarks>
public static class DeferLog
{
    /// <summary>Appends one deferral and flushes it to disk.</summary>
    public static void Append(QueueDirectory d, QueueId id, string recipient, EnhancedStatus dsn, string reason)
    {
        string line = $"{Clean(recipient)}\t{dsn}\t{Clean(reason)}\n";
        using var file = new FileStream(d.DeferLogPath(id), new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            BufferSize = 0,
        });
        file.Write(Encoding.UTF8.GetBytes(line));   // one write(2) to an O_APPEND file: whole lines
        file.Flush(flushToDisk: true);
    }

    /// <summary>(recipient, reason) pairs in log order; empty when there is no log.</summary>
    public static IReadOnlyList<(string Recipient, string Reason)> Read(QueueDirectory d, QueueId id) =>
        ReadEntries(d, id).Select(e => (e.Recipient, e.Reason)).ToList();

    /// <summary>The log with its DSN codes; lines that do not parse are skipped.</summary>
    public static IReadOnlyList<DeferLogEntry> ReadEntries(QueueDirectory d, QueueId id)
    {
        string path = d.DeferLogPath(id);
        var entries = new List<DeferLogEntry>();
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path, Encoding.UTF8);
        }
        catch (FileNotFoundException)
        {
            return entries;
        }
        foreach (string line in lines)
        {
            string[] fields = line.Split('\t');
            if (fields.Length == 3 && EnhancedStatus.TryParse(fields[1], out var dsn))
                entries.Add(new DeferLogEntry(fields[0], dsn, fields[2]));
        }
        return entries;
    }

    /// <summary>Deletes the log; a missing log is not an error.</summary>
    public static void Remove(QueueDirectory d, QueueId id) => Native.DeleteIfPresent(d.DeferLogPath(id));

    private static string Clean(string text)
    {
        if (text.AsSpan().IndexOfAny('\t', '\r', '\n') < 0) return text;
        var sb = new StringBuilder(text);
        for (int i = 0; i < sb.Length; i++)
            if (sb[i] is '\t' or '\r' or '\n') sb[i] = ' ';
        return sb.ToString();
    }
}
