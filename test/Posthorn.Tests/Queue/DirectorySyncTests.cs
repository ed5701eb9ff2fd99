using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

/// <summary>DirectorySync.SyncShared: callers that arrive while an fsync runs share the next one, and nobody is
/// released by an fsync that began before its own change.</summary>
public sealed class DirectorySyncTests
{
    private static readonly TimeSpan Patience = Poll.Patience;

    /// <summary>An fsync seam whose calls each wait for their own release.</summary>
    private sealed class HeldFsyncs
    {
        private readonly List<(ManualResetEventSlim Entered, ManualResetEventSlim Release)> _calls = [];
        public Func<int, bool>? FailCall { get; init; }
        private int _n;

        public (ManualResetEventSlim Entered, ManualResetEventSlim Release) Call(int i)
        {
            lock (_calls)
            {
                while (_calls.Count <= i) _calls.Add((new ManualResetEventSlim(), new ManualResetEventSlim()));
                return _calls[i];
            }
        }

        public void Fsync(string directory)
        {
            int i = Interlocked.Increment(ref _n) - 1;
            var (entered, release) = Call(i);
            entered.Set();
            Assert.True(release.Wait(Patience));
            if (FailCall?.Invoke(i) == true) throw new IOException($"fsync directory {directory}: Input/output error");
        }
    }

    [Fact]
    public async Task Callers_arriving_during_an_fsync_wait_for_the_next_one_and_share_it()
    {
        var held = new HeldFsyncs();
        var sync = new DirectorySync("/mail/new", held.Fsync);
        var first = Task.Run(sync.SyncShared);
        Assert.True(held.Call(0).Entered.Wait(Patience));

        // These renamed their files after fsync 0 began: it does not cover them.
        var later = Enumerable.Range(0, 5).Select(_ => Task.Run(sync.SyncShared)).ToList();
        await Poll.Until(() => sync.WaitingCallers == 5, "five callers waiting");
        held.Call(0).Release.Set();
        await first.WaitAsync(Patience);
        Assert.True(held.Call(1).Entered.Wait(Patience));
        Assert.All(later, t => Assert.False(t.IsCompleted));

        held.Call(1).Release.Set();
        await Task.WhenAll(later).WaitAsync(Patience);
        Assert.Equal(2, sync.FsyncCount);
    }

    [Fact]
    public async Task A_failed_fsync_fails_its_caller_and_a_waiter_makes_its_own()
    {
        var held = new HeldFsyncs { FailCall = i => i == 0 };
        var sync = new DirectorySync("/mail/new", held.Fsync);
        var failing = Task.Run(sync.SyncShared);
        Assert.True(held.Call(0).Entered.Wait(Patience));
        var waiter = Task.Run(sync.SyncShared);
        await Poll.Until(() => sync.WaitingCallers == 1, "the caller waiting");

        held.Call(0).Release.Set();
        await Assert.ThrowsAsync<IOException>(() => failing.WaitAsync(Patience));
        Assert.True(held.Call(1).Entered.Wait(Patience));
        Assert.False(waiter.IsCompleted);
        held.Call(1).Release.Set();
        await waiter.WaitAsync(Patience);
        Assert.Equal(2, sync.FsyncCount);
    }

    [Fact]
    public void A_caller_alone_makes_its_own_fsync_each_time()
    {
        int calls = 0;
        var sync = new DirectorySync("/mail/new", _ => calls++);
        sync.SyncShared();
        sync.SyncShared();
        Assert.Equal(2, calls);
    }
}
