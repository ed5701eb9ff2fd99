using Posthorn.Daemon.Qmgr;
using Xunit;

namespace Posthorn.Tests.Qmgr;

/// <summary>qmgr(8)'s per-destination concurrency windows: at most the limit at once per destination, destinations
/// apart, a window gone once nobody holds or waits for it.</summary>
public sealed class DestinationWindowsTests
{
    [Fact]
    public async Task A_destination_gives_no_more_slots_than_its_limit_until_one_is_given_back()
    {
        var windows = new DestinationWindows();
        var first = await windows.EnterAsync("local:alice@example.test", 2, CancellationToken.None);
        var second = await windows.EnterAsync("LOCAL:Alice@Example.Test", 2, CancellationToken.None);   // the same destination
        var third = windows.EnterAsync("local:alice@example.test", 2, CancellationToken.None).AsTask();
        Assert.False(third.IsCompleted);
        Assert.True(first.Backlog);
        first.Dispose();
        using var got = await third.WaitAsync(TimeSpan.FromSeconds(30));
        second.Dispose();
        Assert.Equal(1, windows.Count);
    }

    [Fact]
    public async Task Another_destination_has_its_own_window()
    {
        var windows = new DestinationWindows();
        using var alice = await windows.EnterAsync("local:alice@example.test", 1, CancellationToken.None);
        using var bob = await windows.EnterAsync("local:bob@example.test", 1, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(alice.Backlog);
        Assert.Equal(2, windows.Count);
    }

    [Fact]
    public async Task A_window_nobody_holds_or_waits_for_is_forgotten_and_made_again_with_the_limit_of_then()
    {
        var windows = new DestinationWindows();
        var one = await windows.EnterAsync("smtp:[relay.example.test]", 1, CancellationToken.None);
        one.Dispose();
        one.Dispose();   // twice gives back one slot
        Assert.Equal(0, windows.Count);
        // Made again after a reload that raised the limit: two at once now.
        using var a = await windows.EnterAsync("smtp:[relay.example.test]", 2, CancellationToken.None);
        using var b = await windows.EnterAsync("smtp:[relay.example.test]", 2, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_cancelled_wait_leaves_no_trace()
    {
        var windows = new DestinationWindows();
        var held = await windows.EnterAsync("local:alice@example.test", 1, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var waiting = windows.EnterAsync("local:alice@example.test", 1, cts.Token).AsTask();
        Assert.True(held.Backlog);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.False(held.Backlog);
        held.Dispose();
        Assert.Equal(0, windows.Count);
    }

    [Fact]
    public async Task A_limit_of_zero_sets_none()
    {
        var windows = new DestinationWindows();
        var leases = new List<DestinationWindows.Lease>();
        for (int i = 0; i < 50; i++)
            leases.Add(await windows.EnterAsync("local:alice@example.test", 0, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        leases.ForEach(l => l.Dispose());
        Assert.Equal(0, windows.Count);
    }
}
