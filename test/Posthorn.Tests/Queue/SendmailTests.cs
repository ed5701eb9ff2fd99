using Posthorn.Daemon.Tools;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

public class SendmailTests
{
    private static QueuedMessage OnlyMaildropFile(TempQueue q)
    {
        var id = Assert.Single(q.Dir.List(QueueName.Maildrop));
        return QueueFile.Read(q.Dir.PathOf(QueueName.Maildrop, id));
    }

    [Fact]
    public void A_lone_dot_ends_the_input_and_CRLF_becomes_LF()
    {
        using var q = new TempQueue();
        Assert.Equal(0, Sendmail.Run(["bob@example.test"], q.Tool("From alice Tue Nov 25 13:17:08 2025\r\nSubject: hi\r\n\r\n..not the end\r\n.\r\nafter the dot\r\n"), q.Root));
        var m = OnlyMaildropFile(q);
        Assert.Equal("Subject: hi\n\n..not the end\n", TempQueue.ReadContent(m));
        Assert.Equal(Environment.UserName, m.Envelope.Sender.ToString());
        Assert.Equal(["bob@example.test"], m.Envelope.Recipients.Select(r => r.Address));
        Assert.Equal(UnixUser.RealUserId().ToString(System.Globalization.CultureInfo.InvariantCulture), m.Envelope.Attributes["uid"]);
        Assert.Equal(TempQueue.Arrival, m.Envelope.ArrivalTime);
    }

    [Theory]
    [InlineData("-i")]
    [InlineData("-oi")]
    public void With_i_a_dot_line_is_content(string flag)
    {
        using var q = new TempQueue();
        Assert.Equal(0, Sendmail.Run([flag, "-f", "<root>", "--", "bob, carol"], q.Tool("Subject: s\n\n.\nmore\nno newline"), q.Root));
        var m = OnlyMaildropFile(q);
        Assert.Equal("Subject: s\n\n.\nmore\nno newline\n", TempQueue.ReadContent(m));
        Assert.Equal("root", m.Envelope.Sender.ToString());
        Assert.Equal(["bob", "carol"], m.Envelope.Recipients.Select(r => r.Address));
    }

    [Fact]
    public void Dash_t_marks_the_file_for_recipient_extraction_and_keeps_the_headers_for_cleanup()
    {
        using var q = new TempQueue();
        Assert.Equal(0, Sendmail.Run(["-t"], q.Tool("To: bob\nBcc: eve\n\nx\n"), q.Root));
        var m = OnlyMaildropFile(q);
        Assert.Equal("yes", m.Envelope.Attributes["extract_recipients"]);
        Assert.Empty(m.Envelope.Recipients);
        Assert.Equal("To: bob\nBcc: eve\n\nx\n", TempQueue.ReadContent(m));
    }

    [Fact]
    public void Dash_N_and_dash_R_set_the_dsn_notify_of_every_recipient_and_the_return()
    {
        using var q = new TempQueue();
        Assert.Equal(0, Sendmail.Run(["-N", "success,delay", "-R", "hdrs", "bob", "carol"], q.Tool("Subject: s\n\nx\n"), q.Root));
        var m = OnlyMaildropFile(q);
        Assert.All(m.Envelope.Recipients, r => Assert.Equal(DsnNotifyFlags.Success | DsnNotifyFlags.Delay, r.Notify));
        Assert.Equal("HDRS", m.Envelope.Attributes[QueueEnvelope.DsnReturnAttribute]);
    }

    [Theory]
    [InlineData("never", DsnNotifyFlags.Never)]
    [InlineData("failure", DsnNotifyFlags.Failure)]
    [InlineData("SUCCESS, failure", DsnNotifyFlags.Success | DsnNotifyFlags.Failure)]
    public void Dash_N_values(string value, DsnNotifyFlags expected) => Assert.Equal(expected, Sendmail.ParseNotify(value));

    [Theory]
    [InlineData("-N", "never,success")]   // RFC 3461 §4.1: NEVER stands alone
    [InlineData("-N", "sometimes")]
    [InlineData("-R", "all")]
    public void Bad_dash_N_or_dash_R_is_a_usage_error(string flag, string value)
    {
        using var q = new TempQueue();
        Assert.Equal(Sendmail.ExUsage, Sendmail.Run([flag, value, "bob"], q.Tool("x\n"), q.Root));
        Assert.Empty(q.Dir.List(QueueName.Maildrop));
    }

    [Fact]
    public void A_line_longer_than_the_buffer_is_kept_whole()
    {
        using var q = new TempQueue();
        string longLine = new('a', 200_000);
        Assert.Equal(0, Sendmail.Run(["bob"], q.Tool($"Subject: s\n\n{longLine}\r\n.\n"), q.Root));
        Assert.Equal($"Subject: s\n\n{longLine}\n", TempQueue.ReadContent(OnlyMaildropFile(q)));
    }

    [Fact]
    public void No_recipients_and_bad_flags_are_usage_errors()
    {
        using var q = new TempQueue();
        Assert.Equal(64, Sendmail.Run([], q.Tool("x\n"), q.Root));
        Assert.Equal(64, Sendmail.Run(["-Z", "bob"], q.Tool("x\n"), q.Root));
        Assert.Equal(64, Sendmail.Run(["-bs"], q.Tool("x\n"), q.Root));
        Assert.Empty(q.Dir.List(QueueName.Maildrop));
    }

    [Fact]
    public void Unwritable_queue_is_EX_TEMPFAIL()
    {
        using var q = new TempQueue();
        // A plain file where the queue directory should be: fails as root too.
        string notADirectory = Path.Combine(q.Root, "maildrop", "..", "..", "spool-file");
        File.WriteAllText(notADirectory, "");
        Assert.Equal(75, Sendmail.Run(["bob"], q.Tool("x\n"), notADirectory));
        Assert.StartsWith("sendmail: fatal: ", q.Err.ToString());
    }

    [Fact]
    public void Dash_bp_lists_the_queue()
    {
        using var q = new TempQueue();
        Assert.Equal(0, Sendmail.Run(["-bp"], q.Tool(), q.Root));
        Assert.Equal("Mail queue is empty\n", q.Out.ToString());
    }
}
