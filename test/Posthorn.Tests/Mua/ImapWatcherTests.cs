using Posthorn.Mua;
using Posthorn.Tests.Imap;
using Xunit;

namespace Posthorn.Tests.Mua;

/// <summary>The reader's IDLE connection (<see cref="ImapWatcher"/>) against a real IMAP session.</summary>
public sealed class ImapWatcherTests
{
    [Fact]
    public async Task Mail_that_arrived_before_the_watcher_opened_the_folder_is_reported()
    {
        await using var server = new ImapTestServer();
        server.Deliver("first");
        // The reader showed one message; the second came before the watcher's EXAMINE (the window a folder change
        // opens): no count changes after that, so only the comparison with the reader's count can tell.
        server.Deliver("second");
        var reported = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        string? problem = null;
        using var watcher = ImapWatcher.Start(new ImapUrl(false, "alice", "127.0.0.1", server.ImapPort), "secret",
            ImapTrust.AcceptAny(), "INBOX", knownCount: 1, () => reported.TrySetResult(), p => problem = p);
        var done = await Task.WhenAny(reported.Task, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(done == reported.Task, problem ?? "no change reported within 30 s");
    }
}
