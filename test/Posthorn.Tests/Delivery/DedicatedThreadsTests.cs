using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>The delivery threads: every item runs, never more threads than the limit, idle threads end, and a
/// later item starts one again.</summary>
public sealed class DedicatedThreadsTests
{
    private static readonly TimeSpan Patience = Poll.Patience;

    [Fact]
    public async Task Every_item_runs_once_and_returns_its_result()
    {
        var threads = new DedicatedThreads("test items", maxThreads: 4, idleTimeout: TimeSpan.FromSeconds(5));
        int ran = 0;
        var tasks = Enumerable.Range(0, 500).Select(i => threads.Run(() => { Interlocked.Increment(ref ran); return i * 2; })).ToList();

        var results = await Task.WhenAll(tasks).WaitAsync(Patience);

        Assert.Equal(Enumerable.Range(0, 500).Select(i => i * 2), results);
        Assert.Equal(500, ran);
    }

    [Fact]
    public async Task Items_run_in_parallel_up_to_the_limit_and_no_further()
    {
        var threads = new DedicatedThreads("test limit", maxThreads: 3, idleTimeout: TimeSpan.FromSeconds(5));
        using var gate = new ManualResetEventSlim();
        int running = 0, most = 0;
        var tasks = Enumerable.Range(0, 8).Select(_ => threads.Run(() =>
        {
            int now = Interlocked.Increment(ref running);
            int seen;
            while ((seen = Volatile.Read(ref most)) < now) Interlocked.CompareExchange(ref most, now, seen);
            gate.Wait(Patience);
            Interlocked.Decrement(ref running);
            return 0;
        })).ToList();

        await Poll.Until(() => Volatile.Read(ref running) == 3, "three items running");
        Assert.Equal(3, threads.ThreadCount);
        gate.Set();
        await Task.WhenAll(tasks).WaitAsync(Patience);
        Assert.Equal(3, most);
    }

    [Fact]
    public async Task An_exception_reaches_the_caller_and_the_thread_goes_on()
    {
        var threads = new DedicatedThreads("test faults", maxThreads: 1, idleTimeout: TimeSpan.FromSeconds(5));

        var failed = threads.Run<int>(() => throw new IOException("disk on fire"));
        var next = threads.Run(() => 7);

        Assert.Equal("disk on fire", (await Assert.ThrowsAsync<IOException>(() => failed.WaitAsync(Patience))).Message);
        Assert.Equal(7, await next.WaitAsync(Patience));
    }

    [Fact]
    public async Task Idle_threads_end_and_a_later_item_starts_one_again()
    {
        var threads = new DedicatedThreads("test idle", maxThreads: 2, idleTimeout: TimeSpan.FromMilliseconds(50));
        Assert.Equal(1, await threads.Run(() => 1).WaitAsync(Patience));

        await Poll.Until(() => threads.ThreadCount == 0, "the idle thread ended");

        Assert.Equal(2, await threads.Run(() => 2).WaitAsync(Patience));
    }
}
