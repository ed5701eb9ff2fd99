using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Posthorn.Core;
using Posthorn.Daemon.Smtpd;
using Posthorn.Mail.Queue;
using Posthorn.Smtp;
using Posthorn.Tests.Delivery;
using Posthorn.Tests.Policy;
using Posthorn.Tests.Smtp;
using Xunit;

namespace Posthorn.Tests.Queue;

/// <summary>The group commit of new queue files: batching, the order of the steps, and failures.</summary>
public sealed class GroupCommitTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-commit-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>A temporary file with its handle, as a QueueFileWriter hands it over.</summary>
    private (SafeFileHandle Handle, string Temp, string Target) NewFile(string name)
    {
        string temp = Path.Combine(_dir.FullName, name + ".tmp");
        var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.Write(handle, "x\n"u8, 0);
        return (handle, temp, Path.Combine(_dir.FullName, name));
    }

    [Fact]
    public async Task Waiters_are_released_only_after_file_fsync_rename_and_directory_fsync_in_that_order()
    {
        var steps = new List<string>();
        using var dirFsyncEntered = new ManualResetEventSlim();
        using var releaseDirFsync = new ManualResetEventSlim();
        var directory = new DirectorySync("/queue/incoming", _ =>
        {
            lock (steps) steps.Add("fsync dir");
            dirFsyncEntered.Set();
            releaseDirFsync.Wait(Patience);
        });
        var commit = new GroupCommit(
            fsync: h => { lock (steps) steps.Add("fsync file"); },
            rename: (from, to) => { lock (steps) steps.Add("rename " + Path.GetFileName(to)); File.Move(from, to); });
        var (h, temp, target) = NewFile("A1");
        using (h)
        {
            var request = new GroupCommit.Request(h, temp, target, directory);
            var done = commit.CommitAsync(request);
            Assert.True(dirFsyncEntered.Wait(Patience));
            // The name exists, but it is not durable yet: no 250 may go out.
            Assert.True(File.Exists(target));
            Assert.False(done.IsCompleted);
            releaseDirFsync.Set();
            await done.WaitAsync(Patience);
            Assert.True(request.Renamed);
        }
        Assert.Equal(["fsync file", "rename A1", "fsync dir"], steps);
    }

    /// <summary>A file fsync seam that holds the first call until <see cref="Release"/> and counts them all.</summary>
    private sealed class FirstFsyncHeld : IDisposable
    {
        private int _count;
        public ManualResetEventSlim Entered { get; } = new();
        public ManualResetEventSlim Release { get; } = new();
        public int Count => Volatile.Read(ref _count);

        public void Fsync(SafeFileHandle _)
        {
            if (Interlocked.Increment(ref _count) != 1) return;
            Entered.Set();
            Release.Wait(Patience);
        }

        public void Dispose()
        {
            Entered.Dispose();
            Release.Dispose();
        }
    }

    [Fact]
    public async Task Requests_arriving_during_a_batch_share_the_next_batch_and_its_directory_fsync()
    {
        using var held = new FirstFsyncHeld();
        var directory = new DirectorySync("/queue/incoming", _ => { });
        var commit = new GroupCommit(
            fsync: held.Fsync,
            rename: File.Move);
        var files = Enumerable.Range(1, 4).Select(i => NewFile("B" + i)).ToList();
        try
        {
            var first = commit.CommitAsync(new GroupCommit.Request(files[0].Handle, files[0].Temp, files[0].Target, directory));
            Assert.True(held.Entered.Wait(Patience));
            var later = files.Skip(1).Select(f => commit.CommitAsync(new GroupCommit.Request(f.Handle, f.Temp, f.Target, directory))).ToList();
            Assert.All(later, t => Assert.False(t.IsCompleted));
            held.Release.Set();
            await Task.WhenAll([first, .. later]).WaitAsync(Patience);
        }
        finally
        {
            foreach (var f in files) f.Handle.Dispose();
        }
        Assert.Equal(2, commit.BatchCount);
        Assert.Equal(2, directory.FsyncCount);   // one per batch, not one per file
        Assert.Equal(4, held.Count);
        Assert.All(files, f => Assert.True(File.Exists(f.Target)));
    }

    [Fact]
    public async Task A_failing_directory_fsync_fails_every_waiter_of_its_batch()
    {
        using var held = new FirstFsyncHeld();
        var directory = new DirectorySync("/queue/incoming", _ => throw new IOException("fsync directory /queue/incoming: Input/output error"));
        var commit = new GroupCommit(
            fsync: held.Fsync,
            rename: File.Move);
        var files = Enumerable.Range(1, 3).Select(i => NewFile("C" + i)).ToList();
        try
        {
            var requests = files.Select(f => new GroupCommit.Request(f.Handle, f.Temp, f.Target, directory)).ToList();
            var first = commit.CommitAsync(requests[0]);
            Assert.True(held.Entered.Wait(Patience));
            var later = requests.Skip(1).Select(commit.CommitAsync).ToList();
            held.Release.Set();
            foreach (var t in (Task[])[first, .. later])
                await Assert.ThrowsAsync<IOException>(() => t.WaitAsync(Patience));
            // Renamed, so the writer keeps the file: it may still be delivered (at least once).
            Assert.All(requests, r => Assert.True(r.Renamed));
        }
        finally
        {
            foreach (var f in files) f.Handle.Dispose();
        }
    }

    [Fact]
    public async Task A_failing_file_fsync_fails_only_that_file_which_is_never_renamed()
    {
        using var gate = new ManualResetEventSlim();
        using var held = new ManualResetEventSlim();
        var bad = NewFile("D-bad");
        var good = NewFile("D-good");
        var directory = new DirectorySync("/queue/incoming", _ => { });
        var commit = new GroupCommit(
            fsync: h =>
            {
                if (!held.IsSet) { held.Set(); gate.Wait(Patience); }   // hold the first batch so both share the next
                if (h == bad.Handle) throw new IOException("fsync: No space left on device");
            },
            rename: File.Move);
        var holder = NewFile("D-holder");
        try
        {
            var first = commit.CommitAsync(new GroupCommit.Request(holder.Handle, holder.Temp, holder.Target, directory));
            Assert.True(held.Wait(Patience));
            var badRequest = new GroupCommit.Request(bad.Handle, bad.Temp, bad.Target, directory);
            var goodRequest = new GroupCommit.Request(good.Handle, good.Temp, good.Target, directory);
            var badDone = commit.CommitAsync(badRequest);
            var goodDone = commit.CommitAsync(goodRequest);
            gate.Set();
            await first.WaitAsync(Patience);
            await Assert.ThrowsAsync<IOException>(() => badDone.WaitAsync(Patience));
            await goodDone.WaitAsync(Patience);
            Assert.False(badRequest.Renamed);
            Assert.False(File.Exists(bad.Target));
            Assert.True(File.Exists(good.Target));
        }
        finally
        {
            foreach (var f in (SafeFileHandle[])[bad.Handle, good.Handle, holder.Handle]) f.Dispose();
        }
    }

    [Fact]
    public async Task A_published_file_is_readable_by_qmgr_while_its_writer_still_holds_it_open()
    {
        // qmgr may claim and read a file as soon as the batch renamed it, before the writer has closed it.
        QueuedMessage? seen = null;
        var commit = new GroupCommit(rename: (from, to) =>
        {
            File.Move(from, to);
            seen = QueueFile.Read(to);
        });
        var queue = new QueueDirectory(Path.Combine(_dir.FullName, "spool"), commit);
        queue.EnsureCreated();
        var id = new QueueIdGenerator(TimeProvider.System).Next();
        await using (var w = QueueFileWriter.Create(queue, id, QueueName.Incoming))
        {
            await w.WriteAsync("Subject: x\n\nbody\n"u8.ToArray(), default);
            await w.CommitAsync(new QueueEnvelope(SmtpPath.FromAddress("a@b.test"), [new QueueRecipient("c@d.test")], DateTimeOffset.UtcNow), default);
        }
        Assert.NotNull(seen);
        Assert.Equal("c@d.test", Assert.Single(seen.Envelope.Recipients).Address);
        Assert.Equal([id], queue.List(QueueName.Incoming));
    }

    [Fact]
    public async Task Smtpd_replies_451_when_the_queue_file_cannot_be_made_durable_and_leaves_no_file()
    {
        using var h = new PolicyHarness();
        var settings = h.Configure("");
        var failing = new GroupCommit(fsync: _ => throw new IOException("fsync: Input/output error"), rename: File.Move);
        var queue = new QueueDirectory(Path.Combine(h.Dir, "spool"), failing);
        queue.EnsureCreated();
        var local = new Posthorn.Mail.Delivery.LocalTransport(settings.Local, new FakeUsers(Path.Combine(h.Dir, "home"), "user"),
            TimeProvider.System, h.Log);
        var queued = new List<QueueId>();
        var sink = new SmtpdSink(settings, queue, new QueueIdGenerator(TimeProvider.System), local, h.Log, TimeProvider.System, queued.Add);
        var toServer = new Pipe();
        var toClient = new Pipe();
        using var stop = new CancellationTokenSource(Patience);
        var info = new SmtpSessionInfo { Client = new IPEndPoint(IPAddress.Loopback, 40000), ClientName = "localhost" };
        var session = new SmtpServerSession(new DuplexPipeStream(toServer.Reader, toClient.Writer), info, settings.Smtpd, sink, h.Log, TimeProvider.System);
        var running = Task.Run(() => session.RunAsync(stop.Token));
        using var reader = new StreamReader(toClient.Reader.AsStream(), Encoding.UTF8);

        async Task<string> Say(string line)
        {
            if (line.Length > 0) await toServer.Writer.WriteAsync(Encoding.UTF8.GetBytes(line + "\r\n"), stop.Token);
            while (true)
            {
                string? reply = await reader.ReadLineAsync(stop.Token);
                Assert.NotNull(reply);
                if (reply.Length < 4 || reply[3] == ' ') return reply;
            }
        }

        await Say("");
        await Say("HELO client.example");
        await Say("MAIL FROM:<a@sender.example>");
        Assert.Equal("250 2.1.5 Ok", await Say("RCPT TO:<user@example.test>"));
        await Say("DATA");
        // Postfix cleanup(8) on a queue file write error: 451 4.3.0, the client keeps the message.
        Assert.Equal("451 4.3.0 Error: queue file write error", await Say("Subject: x\r\n\r\nbody\r\n."));
        await toServer.Writer.CompleteAsync();
        try { await running; } catch (OperationCanceledException) { }
        Assert.Empty(queued);
        Assert.Empty(queue.List(QueueName.Incoming));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(queue.Root, "tmp")));
    }
}
