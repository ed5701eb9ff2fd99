using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

public class DirectorySyncTests
{
    [Fact]
    public async Task Callers_arriving_during_an_fsync_share_the_next_one()
    {
        using var firstStarted = new ManualResetEventSlim();
        using var releaseFirst = new ManualResetEventSlim();
        int calls = 0;
        var sync = new DirectorySync("/queue/incoming", _ =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                firstStarted.Set();
                releaseFirst.Wait(TimeSpan.FromSeconds(30));
            }
        });

        var a = sync.SyncAsync();
        Assert.True(firstStarted.Wait(TimeSpan.FromSeconds(30)));
        // The first fsync is running: it may have started before these callers' renames.
        var b = sync.SyncAsync();
        var c = sync.SyncAsync();
        Assert.False(b.IsCompleted);
        Assert.Same(b, c);
        releaseFirst.Set();
        await Task.WhenAll(a, b, c);

        Assert.Equal(2, calls);
        Assert.Equal(2, sync.FsyncCount);
    }

    [Fact]
    public async Task An_fsync_failure_fails_every_caller_of_that_batch()
    {
        using var firstStarted = new ManualResetEventSlim();
        using var releaseFirst = new ManualResetEventSlim();
        int calls = 0;
        var sync = new DirectorySync("/queue/incoming", _ =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                firstStarted.Set();
                releaseFirst.Wait(TimeSpan.FromSeconds(30));
                return;
            }
            throw new IOException("fsync directory /queue/incoming: Input/output error");
        });

        var a = sync.SyncAsync();
        Assert.True(firstStarted.Wait(TimeSpan.FromSeconds(30)));
        var b = sync.SyncAsync();
        var c = sync.SyncAsync();
        releaseFirst.Set();
        await a;
        await Assert.ThrowsAsync<IOException>(() => b);
        await Assert.ThrowsAsync<IOException>(() => c);

        // The next caller after a failure gets a fresh attempt.
        await Assert.ThrowsAsync<IOException>(() => sync.SyncAsync());
        Assert.Equal(3, calls);
    }
}
