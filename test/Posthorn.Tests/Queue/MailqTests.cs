using Posthorn.Core;
using Posthorn.Daemon.Tools;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

/// <summary>Golden output in Postfix's showq_compat format (columns "%-11s %7s %-20s %s").</summary>
public class MailqTests
{
    [Fact]
    public void Empty_queue_says_Mail_queue_is_empty()
    {
        using var q = new TempQueue();
        Assert.Equal(0, Mailq.Run([], q.Tool(), q.Root));
        Assert.Equal("Mail queue is empty\n", q.Out.ToString());
    }

    [Fact]
    public async Task Deferred_message_shows_its_reason_right_aligned_before_the_recipient()
    {
        using var q = new TempQueue();
        var id = new QueueId("8C557D81C5");
        await q.EnqueueAsync(id, QueueName.Deferred, new string('x', 441) + "\n", "ana@example.com", "bruno@example.net");
        DeferLog.Append(q.Dir, id, "bruno@example.net", EnhancedStatus.Parse("4.4.1"),
            "connect to mail.example.net[192.0.2.26]:25: Connection refused");

        Assert.Equal(0, Mailq.Run(["-p"], q.Tool(), q.Root));

        Assert.Equal(
            "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n" +
            "8C557D81C5      442 Tue Nov 25 13:17:08  ana@example.com\n" +
            "              (connect to mail.example.net[192.0.2.26]:25: Connection refused)\n" +
            "                                         bruno@example.net\n" +
            "\n" +
            "-- 0 Kbytes in 1 Request.\n",
            q.Out.ToString());
    }

    [Fact]
    public async Task Active_and_hold_markers_null_sender_and_done_recipients()
    {
        using var q = new TempQueue();
        string active = await q.EnqueueAsync(new QueueId("4F3A2B1C3D"), QueueName.Active, new string('y', 2344) + "\n", "alice@example.com",
            "bob@dest.com", "done@dest.com", "carol@dest.com");
        QueueFile.MarkDone(active, 1);
        await q.EnqueueAsync(new QueueId("4F3A2B1C3E"), QueueName.Hold, new string('z', 8900) + "\n", "", "dave@dest.com");
        DeferLog.Append(q.Dir, new QueueId("4F3A2B1C3D"), "carol@dest.com", EnhancedStatus.Parse("4.2.2"), "over quota");

        Assert.Equal(0, Mailq.Run([], q.Tool(), q.Root));

        Assert.Equal(
            "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n" +
            "4F3A2B1C3D*    2345 Tue Nov 25 13:17:08  alice@example.com\n" +
            "                                         bob@dest.com\n" +
            "                                                                  (over quota)\n" +
            "                                         carol@dest.com\n" +
            "\n" +
            "4F3A2B1C3E!    8901 Tue Nov 25 13:17:08  MAILER-DAEMON\n" +
            "                                         dave@dest.com\n" +
            "\n" +
            "-- 10 Kbytes in 2 Requests.\n",
            q.Out.ToString());
    }

    [Fact]
    public void Unknown_flag_is_a_usage_error()
    {
        using var q = new TempQueue();
        Assert.Equal(64, Mailq.Run(["-x"], q.Tool(), q.Root));
    }

    [Fact]
    public void Asctime_pads_single_digit_days_with_a_space()
    {
        Assert.Equal("Thu Mar  2 07:10:58 2023", Mailq.AscTime(new DateTimeOffset(2023, 3, 2, 7, 10, 58, TimeSpan.Zero)));
    }
}
