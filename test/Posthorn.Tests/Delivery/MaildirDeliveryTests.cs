using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

public class MaildirDeliveryTests
{
    [Fact]
    public async Task Maildir_delivery_creates_the_folders_and_moves_the_file_from_tmp_to_new()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport(fx.Options() with { HomeMailbox = "Maildir/" });
        var r = await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", "Subject: hi\r\n\r\nFrom here\r\n"), default);
        var result = Assert.Single(r.Results);
        Assert.Equal((DeliveryOutcome.Sent, "2.0.0", "delivered to maildir"), (result.Outcome, result.Dsn.ToString(), result.Text));
        string md = Path.Combine(fx.Root, "home", "bob", "Maildir");
        Assert.Empty(Directory.GetFiles(Path.Combine(md, "tmp")));
        Assert.Empty(Directory.GetFiles(Path.Combine(md, "cur")));
        string file = Assert.Single(Directory.GetFiles(Path.Combine(md, "new")));
        // Maildir++: the name in new/ ends in ",S=" and the file's size in bytes.
        Assert.Equal($"{DeliveryFixture.Epoch.ToUnixTimeSeconds()}.M0P{Environment.ProcessId}Q1.host.example,S={new FileInfo(file).Length}",
            Path.GetFileName(file));
        Assert.Equal(
            "Return-Path: <alice@remote.example>\nX-Original-To: bob@host.example\nDelivered-To: bob@host.example\nSubject: hi\n\nFrom here\n",
            File.ReadAllText(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(md, "new")));

        await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", "Subject: 2\n\nx\n"), default);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(md, "new")).Length);
    }

    [Fact]
    public async Task A_new_directory_removed_after_the_first_delivery_is_made_again_when_the_rename_misses_it()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport(fx.Options() with { HomeMailbox = "Maildir/" });
        await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", "Subject: 1\n\nx\n"), default);
        string md = Path.Combine(fx.Root, "home", "bob", "Maildir");
        // tmp/ is still there, so the open succeeds; only the rename into new/ finds it missing.
        Directory.Delete(Path.Combine(md, "new"), recursive: true);
        Directory.Delete(Path.Combine(md, "cur"));
        var r = await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", "Subject: 2\n\nx\n"), default);
        Assert.Equal(DeliveryOutcome.Sent, Assert.Single(r.Results).Outcome);
        Assert.Single(Directory.GetFiles(Path.Combine(md, "new")));
        Assert.True(Directory.Exists(Path.Combine(md, "cur")));
        Assert.Empty(Directory.GetFiles(Path.Combine(md, "tmp")));
    }

    [Fact]
    public async Task An_oversized_Maildir_message_bounces_and_leaves_nothing_behind()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport(fx.Options() with { HomeMailbox = "Maildir/", MailboxSizeLimit = 100 });
        var r = await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", "Subject: big\n\n" + new string('x', 200) + "\n"), default);
        var result = Assert.Single(r.Results);
        Assert.Equal((DeliveryOutcome.Bounced, "5.2.2", "maildir delivery failed: error writing message: File too large"),
            (result.Outcome, result.Dsn.ToString(), result.Text));
        string md = Path.Combine(fx.Root, "home", "bob", "Maildir");
        Assert.Empty(Directory.GetFiles(Path.Combine(md, "tmp")));
        Assert.Empty(Directory.GetFiles(Path.Combine(md, "new")));
    }

    [Fact]
    public void Unique_names_escape_slash_and_colon_in_the_host_name()
    {
        var now = new DateTimeOffset(2026, 11, 25, 13, 17, 8, 123, TimeSpan.Zero).AddTicks(4560);
        Assert.Equal("1795612628.M123456P42Q7.a\\057b\\072c", MaildirFile.UniqueName(now, 42, 7, "a/b:c"));
    }
}
