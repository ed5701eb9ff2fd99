using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>UserFileThreads runs a work item and every continuation of it on one file thread, whether the work ends at
/// once or waits for other threads on the way.</summary>
public sealed class UserFileThreadsTests
{
    [Fact]
    public async Task Work_that_ends_at_once_returns_its_result_and_its_exception()
    {
        Assert.Equal(42, await UserFileThreads.RunAsync(4244, 4244, () => ValueTask.FromResult(42)));
        var e = await Assert.ThrowsAsync<IOException>(() =>
            UserFileThreads.RunAsync<int>(4244, 4244, () => ValueTask.FromException<int>(new IOException("no such mailbox"))));
        Assert.Equal("no such mailbox", e.Message);
    }

    [Fact]
    public async Task Continuations_after_waits_on_other_threads_come_back_to_the_work_thread_in_order()
    {
        var threads = new List<int>();
        var steps = new List<int>();
        int result = await UserFileThreads.RunAsync(4245, 4245, async () =>
        {
            for (int i = 0; i < 20; i++)
            {
                threads.Add(Environment.CurrentManagedThreadId);
                // Completed by a thread-pool thread: the continuation is posted back to the file thread.
                await Task.Run(() => Thread.Sleep(1));
                Assert.True(UserFileThreads.IsRunningAs(4245, 4245));
                steps.Add(i);
            }
            threads.Add(Environment.CurrentManagedThreadId);
            return steps.Count;
        });
        Assert.Equal(20, result);
        Assert.Equal(Enumerable.Range(0, 20), steps);
        Assert.Single(threads.Distinct());
    }

    [Fact]
    public async Task An_exception_after_a_wait_reaches_the_caller()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => UserFileThreads.RunAsync<int>(4246, 4246, async () =>
        {
            await Task.Run(() => Thread.Sleep(1));
            throw new InvalidOperationException("after the wait");
        }));
        Assert.Equal("after the wait", e.Message);
    }
}
