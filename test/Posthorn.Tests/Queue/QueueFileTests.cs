using System.Text;
using Posthorn.Core;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

public class QueueFileTests
{
    private static readonly QueueId Id = new("3F1A2B0C4D");

    [Fact]
    public async Task Written_file_reads_back_with_the_same_envelope_and_content()
    {
        using var q = new TempQueue();
        string content = "Subject: hi\n\nline one\nline two\n";
        var env = new QueueEnvelope(
            SmtpPath.FromAddress("alice@example.test"),
            [new QueueRecipient("bob@example.test", "Bob@Example.Test"), new QueueRecipient("carol@example.test")],
            new DateTimeOffset(2025, 11, 25, 13, 17, 8, 123, TimeSpan.Zero).AddTicks(4560),
            new Dictionary<string, string> { ["client_name"] = "localhost", ["helo_name"] = "x=y" });
        await using (var w = QueueFileWriter.Create(q.Dir, Id, QueueName.Incoming))
        {
            await w.WriteAsync(Encoding.UTF8.GetBytes("Subject: hi\n\n"), default);
            await w.WriteAsync(Encoding.UTF8.GetBytes("line one\nline two\n"), default);
            Assert.Equal(content.Length, w.ContentLength);
            await w.CommitAsync(env, default);
        }

        var m = QueueFile.Read(q.Dir.PathOf(QueueName.Incoming, Id));
        Assert.Equal(Id, m.Id);
        Assert.Equal(content.Length, m.ContentLength);
        Assert.Equal(content, TempQueue.ReadContent(m));
        Assert.Equal(env.Sender, m.Envelope.Sender);
        Assert.Equal(env.ArrivalTime, m.Envelope.ArrivalTime);
        Assert.Equal(env.Recipients, m.Envelope.Recipients);
        Assert.Equal("x=y", m.Envelope.Attributes["helo_name"]);
        Assert.Equal("localhost", m.Envelope.Attributes["client_name"]);
    }

    [Fact]
    public async Task Null_sender_round_trips_as_null()
    {
        using var q = new TempQueue();
        string path = await q.EnqueueAsync(Id, QueueName.Incoming, "x\n", "", "bob@example.test");
        Assert.True(QueueFile.Read(path).Envelope.Sender.IsNull);
    }

    [Fact]
    public async Task Dispose_without_commit_leaves_no_file_behind()
    {
        using var q = new TempQueue();
        await using (var w = QueueFileWriter.Create(q.Dir, Id, QueueName.Incoming))
        {
            await w.WriteAsync(Encoding.UTF8.GetBytes("Subject: lost\n\nbody\n"), default);
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(q.Root, "tmp")));
        }
        Assert.Empty(Directory.GetFiles(q.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Committed_file_is_mode_0600_and_no_temp_file_remains()
    {
        using var q = new TempQueue();
        string path = await q.EnqueueAsync(Id, QueueName.Incoming, "x\n", "a@b.test", "c@d.test");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Empty(Directory.GetFiles(Path.Combine(q.Root, "tmp")));
    }

    [Fact]
    public async Task MarkDone_survives_a_reread_and_touches_only_that_recipient()
    {
        using var q = new TempQueue();
        string path = await q.EnqueueAsync(Id, QueueName.Active, "body\n", "a@b.test", "one@x.test", "two@x.test", "three@x.test");
        QueueFile.MarkDone(path, 1);
        QueueFile.MarkDone(path, 1);   // idempotent
        var m = QueueFile.Read(path);
        Assert.Equal([false, true, false], m.Envelope.Recipients.Select(r => r.Done));
        Assert.Equal("two@x.test", m.Envelope.Recipients[1].Address);
        Assert.Equal("body\n", TempQueue.ReadContent(m));
        Assert.Throws<ArgumentOutOfRangeException>(() => QueueFile.MarkDone(path, 3));
    }

    [Fact]
    public async Task Commit_never_overwrites_an_existing_queue_file()
    {
        using var q = new TempQueue();
        string path = await q.EnqueueAsync(Id, QueueName.Incoming, "first\n", "a@b.test", "c@d.test");
        await using (var w = QueueFileWriter.Create(q.Dir, Id, QueueName.Incoming))
        {
            await w.WriteAsync(Encoding.UTF8.GetBytes("second\n"), default);
            var env = new QueueEnvelope(SmtpPath.FromAddress("x@y.test"), [new QueueRecipient("z@y.test")], TempQueue.Arrival);
            await Assert.ThrowsAnyAsync<IOException>(async () => await w.CommitAsync(env, default));
        }
        Assert.Equal("first\n", TempQueue.ReadContent(QueueFile.Read(path)));
        Assert.Empty(Directory.GetFiles(Path.Combine(q.Root, "tmp")));
    }

    public static TheoryData<string> Damage => ["truncate-envelope", "truncate-header", "bad-magic", "trailing-garbage", "bad-record-type", "empty"];

    [Theory]
    [MemberData(nameof(Damage))]
    public async Task Damaged_file_is_reported_as_corrupt(string damage)
    {
        using var q = new TempQueue();
        string path = await q.EnqueueAsync(Id, QueueName.Deferred, "Subject: x\n\nbody\n", "a@b.test", "c@d.test");
        byte[] bytes = File.ReadAllBytes(path);
        int envelopeStart = 64 + "Subject: x\n\nbody\n".Length;
        byte[] damaged = damage switch
        {
            "truncate-envelope" => bytes[..^3],
            "truncate-header" => bytes[..40],
            "bad-magic" => [(byte)'X', .. bytes[1..]],
            "trailing-garbage" => [.. bytes, (byte)'!'],
            "bad-record-type" => [.. bytes[..envelopeStart], (byte)'Z', .. bytes[(envelopeStart + 1)..]],
            _ => [],
        };
        File.WriteAllBytes(path, damaged);
        var e = Assert.Throws<QueueFileCorruptException>(() => QueueFile.Read(path));
        Assert.Equal(path, e.FilePath);
        Assert.Throws<QueueFileCorruptException>(() => QueueFile.MarkDone(path, 0));
    }

    [Fact]
    public async Task Concurrent_commits_all_land_and_share_directory_fsyncs()
    {
        using var q = new TempQueue();
        var ids = new QueueIdGenerator(TimeProvider.System);
        var wanted = Enumerable.Range(0, 24).Select(_ => ids.Next()).ToList();
        await Task.WhenAll(wanted.Select(id => Task.Run(() => q.EnqueueAsync(id, QueueName.Incoming, "x\n", "a@b.test", "c@d.test"))));
        Assert.Equal(wanted.OrderBy(i => i.Value, StringComparer.Ordinal), q.Dir.List(QueueName.Incoming));
        long fsyncs = q.Dir.SyncOf(QueueName.Incoming).FsyncCount;
        Assert.InRange(fsyncs, 1, wanted.Count);
    }

    [Fact]
    public async Task Dsn_requests_round_trip_and_mark_done_keeps_them()
    {
        using var q = new TempQueue();
        var env = new QueueEnvelope(
            SmtpPath.FromAddress("alice@example.test"),
            [
                new QueueRecipient("bob@example.test", null, false, DsnNotifyFlags.Success | DsnNotifyFlags.Failure, "rfc822;Bob+x@example.test"),
                new QueueRecipient("carol@example.test"),
                new QueueRecipient("dave@example.test", Notify: DsnNotifyFlags.Never),
            ],
            TempQueue.Arrival,
            new Dictionary<string, string> { [QueueEnvelope.DsnEnvelopeIdAttribute] = "QQ314", [QueueEnvelope.DsnReturnAttribute] = "HDRS" });
        await using (var w = QueueFileWriter.Create(q.Dir, Id, QueueName.Incoming))
        {
            await w.WriteAsync("x\n"u8.ToArray(), default);
            await w.CommitAsync(env, default);
        }
        string path = q.Dir.PathOf(QueueName.Incoming, Id);
        QueueFile.MarkDone(path, 2);
        var read = QueueFile.Read(path).Envelope;
        Assert.Equal(env.Recipients[0], read.Recipients[0]);
        Assert.Equal(env.Recipients[1], read.Recipients[1]);
        Assert.Equal(env.Recipients[2] with { Done = true }, read.Recipients[2]);
        Assert.Equal("QQ314", read.DsnEnvelopeId);
        Assert.True(read.DsnReturnHeadersOnly);
        Assert.True(read.Recipients[0].NotifyOnSuccess);
        Assert.True(read.Recipients[1].NotifyOnFailure);
        Assert.False(read.Recipients[2].NotifyOnFailure);
    }

    /// <summary>A file as written before the 'N' record existed, built byte by byte: it still reads.</summary>
    [Fact]
    public void A_file_without_dsn_records_reads_with_no_dsn_requests()
    {
        using var q = new TempQueue();
        byte[] content = "Subject: old\n\nbody\n"u8.ToArray();
        var envelope = new MemoryStream();
        void Record(char type, string value)
        {
            byte[] v = Encoding.UTF8.GetBytes(value);
            envelope.WriteByte((byte)type);
            envelope.Write([(byte)(v.Length >> 24), (byte)(v.Length >> 16), (byte)(v.Length >> 8), (byte)v.Length]);
            envelope.Write(v);
        }
        Record('T', "1764076628000000");
        Record('S', "alice@example.test");
        Record('A', "client_name=localhost");
        Record('R', "-bob@example.test\0Bob@example.test");
        Record('E', "4");
        string header = $"PHQ1 {content.Length:D20} {envelope.Length:D20}";
        byte[] file = [.. Encoding.ASCII.GetBytes(header.PadRight(63)), (byte)'\n', .. content, .. envelope.ToArray()];
        Directory.CreateDirectory(Path.Combine(q.Root, "deferred"));
        string path = q.Dir.PathOf(QueueName.Deferred, Id);
        File.WriteAllBytes(path, file);

        var m = QueueFile.Read(path);
        var r = Assert.Single(m.Envelope.Recipients);
        Assert.Equal(new QueueRecipient("bob@example.test", "Bob@example.test"), r);
        Assert.Equal(DsnNotifyFlags.Unspecified, r.Notify);
        Assert.True(r.NotifyOnFailure);
        Assert.Null(m.Envelope.DsnEnvelopeId);
        Assert.False(m.Envelope.DsnReturnHeadersOnly);
    }
}
