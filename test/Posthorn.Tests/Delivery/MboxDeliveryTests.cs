using Posthorn.Logging;
using Xunit;

namespace Posthorn.Tests.Delivery;

public class MboxDeliveryTests
{
    private const string Message = "Subject: hi\r\nFrom: Alice <alice@remote.example>\r\n\r\nFrom the start\r\n>From stays\r\nFrom\r\nbare\rcr\r\nno newline at end";

    private const string Expected =
        "From alice@remote.example  Thu Nov  5 13:17:08 2026\n" +
        "Return-Path: <alice@remote.example>\n" +
        "X-Original-To: bob@host.example\n" +
        "Delivered-To: bob@host.example\n" +
        "Subject: hi\n" +
        "From: Alice <alice@remote.example>\n" +
        "\n" +
        ">From the start\n" +
        ">From stays\n" +
        "From\n" +
        "bare\rcr\n" +
        "no newline at end\n" +
        "\n";

    [Fact]
    public async Task Mbox_message_has_From_line_delivery_headers_quoting_and_a_trailing_empty_line()
    {
        using var fx = new DeliveryFixture("bob");
        var r = await fx.Transport().DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        var result = Assert.Single(r.Results);
        Assert.Equal((DeliveryOutcome.Sent, "2.0.0", "delivered to mailbox"), (result.Outcome, result.Dsn.ToString(), result.Text));
        string mbox = Path.Combine(fx.Spool, "bob");
        Assert.Equal(Expected, File.ReadAllText(mbox));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(mbox));
        Assert.False(File.Exists(mbox + ".lock"));
        Assert.Equal(
            ["postfix/local[4242]: 3F1A2B0C4D: to=<bob@host.example>, relay=local, delay=2, delays=2/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)"],
            fx.LogLines.Lines);
    }

    [Fact]
    public async Task A_second_delivery_appends_and_the_null_sender_is_MAILER_DAEMON()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport();
        await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        fx.Clock.Now = fx.Clock.Now.AddDays(20);
        await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", "Subject: bounce\n\nsorry\n", from: "", orig: "root@host.example"), default);
        Assert.Equal(Expected +
            "From MAILER-DAEMON  Wed Nov 25 13:17:08 2026\n" +
            "Return-Path: <>\n" +
            "X-Original-To: root@host.example\n" +
            "Delivered-To: bob@host.example\n" +
            "Subject: bounce\n\nsorry\n\n", File.ReadAllText(Path.Combine(fx.Spool, "bob")));
    }

    [Fact]
    public async Task Over_mailbox_size_limit_bounces_and_leaves_the_mailbox_as_it_was()
    {
        using var fx = new DeliveryFixture("bob");
        string mbox = Path.Combine(fx.Spool, "bob");
        var t = fx.Transport(fx.Options() with { MailboxSizeLimit = 400 });
        await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        byte[] before = File.ReadAllBytes(mbox);

        var r = await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", "Subject: big\n\n" + new string('x', 300) + "\n"), default);
        var result = Assert.Single(r.Results);
        Assert.Equal(DeliveryOutcome.Bounced, result.Outcome);
        Assert.Equal("5.2.2", result.Dsn.ToString());
        Assert.Equal($"cannot update mailbox {mbox} for user bob. error writing message: File too large", result.Text);
        Assert.Equal(before, File.ReadAllBytes(mbox));
        Assert.False(File.Exists(mbox + ".lock"));
    }

    [Fact]
    public async Task A_large_message_is_copied_in_chunks_without_change()
    {
        using var fx = new DeliveryFixture("bob");
        string body = string.Concat(Enumerable.Range(0, 20_000).Select(i => $"line {i} From the middle\r\nFrom {i}\r\n"));
        await fx.Transport().DeliverAsync(DeliveryFixture.Request("bob@host.example", "Subject: big\r\n\r\n" + body), default);
        string text = File.ReadAllText(Path.Combine(fx.Spool, "bob"));
        Assert.EndsWith("line 19999 From the middle\n>From 19999\n\n", text);
        Assert.Equal(20_000, text.Split('\n').Count(l => l.StartsWith(">From ")));
        Assert.Equal(1, text.Split('\n').Count(l => l.StartsWith("From ")));
    }

    [Fact]
    public async Task A_symlinked_mailbox_is_refused_and_the_target_untouched()
    {
        using var fx = new DeliveryFixture("bob");
        string victim = Path.Combine(fx.Root, "victim");
        File.WriteAllText(victim, "keep");
        File.CreateSymbolicLink(Path.Combine(fx.Spool, "bob"), victim);
        var r = await fx.Transport().DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        var result = Assert.Single(r.Results);
        Assert.Equal(DeliveryOutcome.Deferred, result.Outcome);
        Assert.Equal($"cannot update mailbox {Path.Combine(fx.Spool, "bob")} for user bob. cannot open file: file is a symbolic link", result.Text);
        Assert.Equal("keep", File.ReadAllText(victim));
    }

    [Fact]
    public async Task A_hard_linked_mailbox_is_refused()
    {
        using var fx = new DeliveryFixture("bob");
        string mbox = Path.Combine(fx.Spool, "bob");
        File.WriteAllText(mbox, "");
        Assert.Equal(0, Link(mbox, Path.Combine(fx.Root, "other")));
        var r = await fx.Transport().DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.EndsWith("cannot open file: file has 2 hard links", Assert.Single(r.Results).Text);
        Assert.Equal("", File.ReadAllText(mbox));
    }

    [Fact]
    public async Task A_held_dotlock_defers_after_the_lock_attempts()
    {
        using var fx = new DeliveryFixture("bob");
        string mbox = Path.Combine(fx.Spool, "bob");
        File.WriteAllText(mbox + ".lock", "");
        File.SetLastWriteTimeUtc(mbox + ".lock", fx.Clock.Now.UtcDateTime);
        var r = await fx.Transport().DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        var result = Assert.Single(r.Results);
        Assert.Equal((DeliveryOutcome.Deferred, "4.2.0"), (result.Outcome, result.Dsn.ToString()));
        Assert.Equal($"cannot update mailbox {mbox} for user bob. unable to lock for exclusive access: File exists", result.Text);
        Assert.False(File.Exists(mbox));
        Assert.True(File.Exists(mbox + ".lock")); // someone else's lock stays
    }

    [Fact]
    public async Task A_stale_dotlock_is_removed()
    {
        using var fx = new DeliveryFixture("bob");
        string mbox = Path.Combine(fx.Spool, "bob");
        File.WriteAllText(mbox + ".lock", "");
        File.SetLastWriteTimeUtc(mbox + ".lock", fx.Clock.Now.AddSeconds(-501).UtcDateTime);
        var r = await fx.Transport().DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.Equal(DeliveryOutcome.Sent, Assert.Single(r.Results).Outcome);
        Assert.Equal(Expected, File.ReadAllText(mbox));
    }

    [Fact]
    public async Task Home_mailbox_without_slash_is_an_mbox_in_the_home_directory()
    {
        using var fx = new DeliveryFixture("bob");
        var r = await fx.Transport(fx.Options() with { HomeMailbox = "Mailbox" }).DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.Equal(DeliveryOutcome.Sent, Assert.Single(r.Results).Outcome);
        Assert.Equal(Expected, File.ReadAllText(Path.Combine(fx.Root, "home", "bob", "Mailbox")));
    }

    [Fact]
    public async Task Concurrent_deliveries_to_one_mailbox_do_not_interleave()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport(fx.Options() with { DeliverLockAttempts = 1000 });
        var runs = Enumerable.Range(0, 8).Select(i =>
            t.DeliverAsync(DeliveryFixture.Request("bob@host.example", $"Subject: {i}\n\n" + string.Concat(Enumerable.Repeat($"{i}{i}{i}\n", 5000))), default));
        var results = await Task.WhenAll(runs);
        Assert.All(results, r => Assert.Equal(DeliveryOutcome.Sent, Assert.Single(r.Results).Outcome));
        var messages = File.ReadAllText(Path.Combine(fx.Spool, "bob")).Split("\nFrom alice@remote.example  ");
        Assert.Equal(8, messages.Length);
        foreach (var m in messages)
        {
            string subject = m[(m.IndexOf("Subject: ") + 9)..].Split('\n')[0];
            Assert.Equal(5000, m.Split('\n').Count(l => l == subject + subject + subject));
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string from, string to);
}
