using Posthorn.Core;
using Posthorn.Daemon.Tools;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

public class PostcatTests
{
    private static readonly QueueId Id = new("4AB1C2D3E4F5");

    [Fact]
    public async Task Postcat_q_finds_the_file_in_any_queue_and_prints_postfix_sections()
    {
        using var q = new TempQueue();
        string path = await q.EnqueueAsync(Id, QueueName.Deferred, "Subject: hi\n\nbody\n", "ana@example.com", "bruno@example.net", "done@example.net");
        QueueFile.MarkDone(path, 1);

        Assert.Equal(0, Postcat.Run(["-q", Id.Value], q.Tool(), q.Root));

        Assert.Equal(
            "*** ENVELOPE RECORDS deferred/4AB1C2D3E4F5 ***\n" +
            "message_size:              18              64               2\n" +
            "message_arrival_time: Tue Nov 25 13:17:08 2025\n" +
            "create_time: Tue Nov 25 13:17:08 2025\n" +
            "sender: ana@example.com\n" +
            "recipient: bruno@example.net\n" +
            "done_recipient: done@example.net\n" +
            "*** MESSAGE CONTENTS deferred/4AB1C2D3E4F5 ***\n" +
            "Subject: hi\n" +
            "\n" +
            "body\n" +
            "*** HEADER EXTRACTED deferred/4AB1C2D3E4F5 ***\n" +
            "*** MESSAGE FILE END deferred/4AB1C2D3E4F5 ***\n",
            q.Out.ToString());
    }

    [Fact]
    public async Task Postcat_h_shows_only_the_header_and_b_only_the_body()
    {
        using var q = new TempQueue();
        string path = await q.EnqueueAsync(Id, QueueName.Incoming, "Subject: hi\n\nbody\n", "a@b.test", "c@d.test");
        Assert.Equal(0, Postcat.Run(["-h", path], q.Tool(), q.Root));
        Assert.Equal($"*** MESSAGE CONTENTS {path} ***\nSubject: hi\n\n*** HEADER EXTRACTED {path} ***\n*** MESSAGE FILE END {path} ***\n", q.Out.ToString());
        q.Out.GetStringBuilder().Clear();
        Assert.Equal(0, Postcat.Run(["-b", path], q.Tool(), q.Root));
        Assert.Contains("***\nbody\n***", q.Out.ToString());
    }

    [Fact]
    public void Missing_queue_id_is_fatal()
    {
        using var q = new TempQueue();
        Assert.Equal(1, Postcat.Run(["-q", "ABCDEF123456"], q.Tool(), q.Root));
        Assert.Equal("postcat: fatal: open queue file ABCDEF123456: No such file or directory\n", q.Err.ToString());
    }
}
