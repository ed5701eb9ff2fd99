using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Qmgr;

/// <summary>notify_classes software (error_notice_recipient) and bounce_size_limit, against a real queue manager.</summary>
public sealed class PostmasterNoticeTests
{
    // nowhere.test goes to a transport with no master.cf row; closed.test bounces; back.test (the senders and the
    // postmaster) defers so that every notice stays queued where the test can read it.
    private const string Routes = "transport_maps = inline:{ {nowhere.test=nosuch:}, {closed.test=error:5.7.1 closed for business}, " +
        "{back.test=retry:4.0.0 sender side down} }\n";

    [Fact]
    public async Task A_transport_that_is_unavailable_is_a_software_problem_reported_to_error_notice_recipient()
    {
        using var h = new QmgrHarness(Routes + "notify_classes = software\nerror_notice_recipient = oops@back.test\n");
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.FromMinutes(1), "bob@nowhere.test");
        h.Start();

        string line = await h.WaitForLineAsync($"{id}: postmaster software notification: ");
        await h.WaitIdleAsync();
        var notice = Assert.Single(h.Others(QueueName.Deferred, id));
        Assert.EndsWith(notice.Id.Value, line);
        Assert.Equal("oops@back.test", notice.Envelope.Recipients[0].Address);
        Assert.Equal("double-bounce@mail.example.test", notice.Envelope.Sender.ToString());
        string text = QmgrHarness.Content(notice);
        Assert.Contains("Postmaster Warning: Delayed Mail (software problem)", text);
        Assert.Contains("<bob@nowhere.test>: mail transport unavailable", text);
        Assert.Contains("Action: delayed", text);
        Assert.Contains("Status: 4.3.0", text);
        // The message itself stays deferred.
        Assert.True(h.Queue.TryFind(id, out var where));
        Assert.Equal(QueueName.Deferred, where);
    }

    [Theory]
    [InlineData("resource")]
    [InlineData("bounce, delay")]
    public async Task Without_the_software_class_no_notice_is_sent(string classes)
    {
        using var h = new QmgrHarness(Routes + $"notify_classes = {classes}\n");
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.FromMinutes(1), "bob@nowhere.test");
        h.Start();

        await h.WaitForLineAsync($"{id}: to=<bob@nowhere.test>", "status=deferred (mail transport unavailable)");
        await h.WaitIdleAsync();
        Assert.Empty(h.Others(QueueName.Deferred, id));
    }

    [Theory]
    [InlineData("bounce_size_limit = 10\n", false)]
    [InlineData("", true)]
    [InlineData("bounce_size_limit = 100000\n", true)]
    public async Task Bounce_size_limit_decides_whether_the_whole_message_is_returned(string mainCf, bool whole)
    {
        using var h = new QmgrHarness(Routes + mainCf);
        var id = await h.EnqueueAsync("alice@back.test", TimeSpan.FromMinutes(1), "bob@closed.test");
        h.Start();

        await h.WaitForLineAsync($"{id}: sender non-delivery notification: ");
        await h.WaitIdleAsync();
        string text = QmgrHarness.Content(Assert.Single(h.Others(QueueName.Deferred, id)));
        Assert.Equal(whole, text.Contains("Content-Type: message/rfc822", StringComparison.Ordinal));
        Assert.Equal(!whole, text.Contains("Content-Type: text/rfc822-headers", StringComparison.Ordinal));
        Assert.Contains("Subject: held up", text);   // the original header is there either way
    }
}
