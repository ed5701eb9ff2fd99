using System.Text;
using Posthorn.Core;
using Posthorn.Daemon.Tools;
using Posthorn.Logging;
using Posthorn.Mail.Queue;

namespace Posthorn.Tests.Queue;

/// <summary>A fixed clock in UTC, so that times in golden output do not depend on the machine.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;
    public override DateTimeOffset GetUtcNow() => Now;
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}

/// <summary>A fresh queue directory under a temp directory, deleted at the end of the test.</summary>
internal sealed class TempQueue : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("posthorn-queue-");

    public TempQueue()
    {
        Dir = new QueueDirectory(Path.Combine(_temp.FullName, "spool"));
        Dir.EnsureCreated();
    }

    public static readonly DateTimeOffset Arrival = new(2025, 11, 25, 13, 17, 8, TimeSpan.Zero);

    public QueueDirectory Dir { get; }
    public string Root => Dir.Root;
    public FixedClock Clock { get; } = new(Arrival);
    public MemoryLogSink LogSink { get; } = new();
    public MailLog Log => _log ??= new MailLog(LogSink, "postfix", "mail.example.test", Clock, 4242);
    private MailLog? _log;

    public StringWriter Out { get; } = new();
    public StringWriter Err { get; } = new();

    public ToolContext Tool(string stdin = "") => new()
    {
        Out = Out,
        Err = Err,
        In = new StringReader(stdin),
        OpenStdin = () => new MemoryStream(Encoding.UTF8.GetBytes(stdin)),
        GetEnv = _ => null,
        Clock = Clock,
    };

    /// <summary>Writes and commits one queue file.</summary>
    public async Task<string> EnqueueAsync(QueueId id, QueueName queue, string content, string sender, params string[] recipients)
    {
        await using var writer = QueueFileWriter.Create(Dir, id, queue);
        await writer.WriteAsync(Encoding.UTF8.GetBytes(content), CancellationToken.None);
        var env = new QueueEnvelope(SmtpPath.FromAddress(sender), recipients.Select(r => new QueueRecipient(r)).ToList(), Arrival);
        await writer.CommitAsync(env, CancellationToken.None);
        return Dir.PathOf(queue, id);
    }

    public static string ReadContent(QueuedMessage m)
    {
        using var s = m.OpenContent();
        using var r = new StreamReader(s, Encoding.UTF8);
        return r.ReadToEnd();
    }

    public void Dispose() => _temp.Delete(recursive: true);
}
