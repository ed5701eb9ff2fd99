using System.Text;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Daemon.Qmgr;
using Posthorn.Mail.Queue;
using Posthorn.Tests.Config;
using Posthorn.Tests.Delivery;
using Posthorn.Tests.Queue;

namespace Posthorn.Tests.Qmgr;

/// <summary>A real <see cref="QmgrService"/> over a temp queue, with a fixed clock: tests route their domains to
/// error:, retry: and discard: with transport_maps, so nothing leaves the process.</summary>
internal sealed class QmgrHarness : IDisposable
{
    private const string Listener = "127.0.0.1:2525 inet n - n - - smtpd\n";
    private readonly TempQueue _temp = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;

    /// <param name="users">Local accounts (of the test's own uid) with a home under <see cref="Homes"/>.</param>
    public QmgrHarness(string mainCf, params string[] users)
    {
        var cfg = TestConfig.Load("myhostname = mail.example.test\nmydomain = example.test\nmydestination = $myhostname\n" + mainCf, Listener);
        Settings = Settings.From(cfg, _temp.Log);
        foreach (var u in users) Directory.CreateDirectory(Path.Combine(Homes, u));
        // As root, local(8) runs commands of root's deliveries as default_privs: the system's nobody.
        var transports = new Transports(new UsersWithSystem(new FakeUsers(Homes, users)), _temp.Log, Clock);
        Qmgr = new QmgrService(() => Settings, Queue, new QueueIdGenerator(Clock), transports, _temp.Log, Clock);
    }

    public Settings Settings { get; }
    public string Homes => Path.Combine(_temp.Root, "homes");
    public QmgrService Qmgr { get; }
    public QueueDirectory Queue => _temp.Dir;
    public Posthorn.Tests.Queue.FixedClock Clock => _temp.Clock;
    public IReadOnlyList<string> Lines => _temp.LogSink.Lines;

    /// <summary>Queues a message in incoming/ that arrived <paramref name="age"/> before the clock's now.</summary>
    public Task<QueueId> EnqueueAsync(string sender, TimeSpan age, params string[] recipients) =>
        EnqueueAsync(sender, age, recipients.Select(r => new QueueRecipient(r)).ToList());

    /// <summary>As above, with the recipients' DSN fields given.</summary>
    public async Task<QueueId> EnqueueAsync(string sender, TimeSpan age, IReadOnlyList<QueueRecipient> recipients)
    {
        var id = new QueueId($"AAAAA{Random.Shared.Next(0x1000000, 0xFFFFFFF):X7}");
        await using var writer = QueueFileWriter.Create(Queue, id, QueueName.Incoming);
        await writer.WriteAsync(Encoding.UTF8.GetBytes($"From: {sender}\nSubject: held up\nMessage-ID: <{id}@example.test>\n\nbody\n"), CancellationToken.None);
        await writer.CommitAsync(new QueueEnvelope(SmtpPath.FromAddress(sender), [.. recipients],
            Clock.GetUtcNow() - age), CancellationToken.None);
        return id;
    }

    public void Start() => _run = Qmgr.RunAsync(_stop.Token);

    /// <summary>Stops the queue manager and waits (bounded) for its loop to end.</summary>
    public void Stop()
    {
        _stop.Cancel();
        try { _run?.Wait(TimeSpan.FromSeconds(30)); } catch (AggregateException) { /* cancelled */ }
    }

    /// <summary>Waits (bounded, on the log, not on time) for a line that contains every part.</summary>
    public async Task<string> WaitForLineAsync(params string[] parts)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (Lines.FirstOrDefault(l => parts.All(p => l.Contains(p, StringComparison.Ordinal))) is { } line) return line;
            await Task.Delay(20);
        }
        throw new TimeoutException($"no log line with [{string.Join("] [", parts)}]; log:\n{string.Join("\n", Lines)}");
    }

    /// <summary>Waits until nothing is in incoming/ or active/ (every message has settled in its queue).</summary>
    public async Task WaitIdleAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Queue.List(QueueName.Incoming).Any() || Queue.List(QueueName.Active).Any())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("queue not idle; log:\n" + string.Join("\n", Lines));
            await Task.Delay(20);
        }
    }

    /// <summary>Every queued message in <paramref name="q"/> other than <paramref name="except"/>, read.</summary>
    public List<QueuedMessage> Others(QueueName q, QueueId except) =>
        Queue.List(q).Where(i => i != except).Select(i => QueueFile.Read(Queue.PathOf(q, i))).ToList();

    public static string Content(QueuedMessage m) => TempQueue.ReadContent(m);

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
        _temp.Dispose();
    }
}
