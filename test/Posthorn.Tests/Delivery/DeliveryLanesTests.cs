using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>local(8)'s per-recipient concurrency on the delivery threads: no more at once than the limit, in arrival
/// order, the waiting ones taken back to back by the thread that ended the one before, other recipients apart.</summary>
public sealed class DeliveryLanesTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task No_more_deliveries_to_one_destination_run_at_once_than_its_limit_and_they_start_in_arrival_order()
    {
        var lanes = new DeliveryLanes();
        using var gate = new ManualResetEventSlim();
        int running = 0, most = 0;
        var order = new List<int>();
        int Delivery(int n)
        {
            int now = Interlocked.Increment(ref running);
            lock (order)
            {
                order.Add(n);
                most = Math.Max(most, now);
            }
            gate.Wait(Deadline);
            Interlocked.Decrement(ref running);
            return n;
        }
        // Same destination whatever the case of its address.
        var tasks = Enumerable.Range(0, 8)
            .Select(n => lanes.RunAsync(n % 2 == 0 ? "local:alice@example.test" : "LOCAL:Alice@Example.Test", 2, () => Delivery(n), CancellationToken.None))
            .ToList();
        await Poll.Until(() => Volatile.Read(ref running) == 2, "two deliveries under way");
        Assert.All(tasks, t => Assert.False(t.IsCompleted));
        gate.Set();
        Assert.Equal(Enumerable.Range(0, 8), await Task.WhenAll(tasks).WaitAsync(Deadline));
        Assert.Equal(2, most);
        // The first two started together; every other one started after them, in the order it came.
        Assert.Equal(Enumerable.Range(2, 6), order.Skip(2));
        Assert.Equal(0, lanes.Count);
    }

    [Fact]
    public async Task Deliveries_that_waited_run_on_the_thread_that_ended_the_one_before()
    {
        var lanes = new DeliveryLanes();
        using var gate = new ManualResetEventSlim();
        var first = lanes.RunAsync("local:alice@example.test", 1, () =>
        {
            gate.Wait(Deadline);
            return Environment.CurrentManagedThreadId;
        }, CancellationToken.None);
        var waited = Enumerable.Range(0, 5)
            .Select(_ => lanes.RunAsync("local:alice@example.test", 1, () => Environment.CurrentManagedThreadId, CancellationToken.None))
            .ToList();
        gate.Set();
        int thread = await first.WaitAsync(Deadline);
        Assert.NotEqual(Environment.CurrentManagedThreadId, thread);
        Assert.All(await Task.WhenAll(waited).WaitAsync(Deadline), t => Assert.Equal(thread, t));
    }

    [Fact]
    public async Task A_full_lane_does_not_hold_up_another_destination()
    {
        var lanes = new DeliveryLanes();
        using var gate = new ManualResetEventSlim();
        var alice = lanes.RunAsync("local:alice@example.test", 1, () => gate.Wait(Deadline), CancellationToken.None);
        var aliceAgain = lanes.RunAsync("local:alice@example.test", 1, () => true, CancellationToken.None);
        Assert.True(await lanes.RunAsync("local:bob@example.test", 1, () => true, CancellationToken.None).WaitAsync(Deadline));
        Assert.False(aliceAgain.IsCompleted);
        gate.Set();
        Assert.True(await alice.WaitAsync(Deadline));
        Assert.True(await aliceAgain.WaitAsync(Deadline));
    }

    [Fact]
    public async Task A_runner_that_has_made_its_turn_of_deliveries_goes_behind_the_runners_waiting_for_a_thread()
    {
        // Runners run by hand, in the order they were started, as the delivery threads take them when all are busy.
        var runners = new Queue<Action>();
        var lanes = new DeliveryLanes(runners.Enqueue);
        var made = new List<string>();
        var tasks = Enumerable.Range(0, DeliveryLanes.Turn + 3)
            .Select(_ => lanes.RunAsync("local:alice@example.test", 1, () => { made.Add("alice"); return true; }, CancellationToken.None))
            .ToList();
        tasks.Add(lanes.RunAsync("local:bob@example.test", 1, () => { made.Add("bob"); return true; }, CancellationToken.None));
        Assert.Equal(2, runners.Count);
        runners.Dequeue()();   // alice's runner: its turn, then it queues itself again behind bob's
        Assert.Equal(Enumerable.Repeat("alice", DeliveryLanes.Turn), made);
        Assert.Equal(2, runners.Count);
        runners.Dequeue()();   // bob's
        runners.Dequeue()();   // alice's again: the rest
        Assert.Empty(runners);
        Assert.Equal([.. Enumerable.Repeat("alice", DeliveryLanes.Turn), "bob", "alice", "alice", "alice"], made);
        Assert.All(await Task.WhenAll(tasks).WaitAsync(Deadline), Assert.True);
        Assert.Equal(0, lanes.Count);
    }

    [Fact]
    public async Task A_delivery_still_waiting_when_the_daemon_stops_does_not_start()
    {
        var lanes = new DeliveryLanes();
        using var gate = new ManualResetEventSlim();
        using var stop = new CancellationTokenSource();
        bool ran = false;
        var held = lanes.RunAsync("local:alice@example.test", 1, () => gate.Wait(Deadline), CancellationToken.None);
        var waiting = lanes.RunAsync("local:alice@example.test", 1, () => ran = true, stop.Token);
        stop.Cancel();
        gate.Set();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Deadline));
        Assert.False(ran);
        Assert.True(await held);
        Assert.Equal(0, lanes.Count);
    }

    [Fact]
    public async Task A_failed_delivery_reports_its_exception_and_the_lane_goes_on()
    {
        var lanes = new DeliveryLanes();
        var failed = lanes.RunAsync<int>("local:alice@example.test", 1, () => throw new IOException("disk full"), CancellationToken.None);
        var next = lanes.RunAsync("local:alice@example.test", 1, () => 7, CancellationToken.None);
        Assert.Equal("disk full", (await Assert.ThrowsAsync<IOException>(() => failed.WaitAsync(Deadline))).Message);
        Assert.Equal(7, await next.WaitAsync(Deadline));
    }
}
