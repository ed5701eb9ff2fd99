using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a user on the server sends and reads mail with <c>posthorn mail</c>, the
/// mailx-compatible client (issue 10, command-line half): sent mail goes through maildrop and local
/// delivery, and the same tool lists and deletes it in the mbox.</summary>
public sealed class MailCommandTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;

    [Fact]
    public async Task Mail_sent_with_posthorn_mail_arrives_and_is_listed_and_deleted_by_it()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string token = Token.New();
        var sent = await d.RunToolWithInputAsync($"hello {token}\n", "mail", "-s", $"hi {token}", $"{User}@{TestConfig.Myhostname}");
        Assert.True(sent.ExitCode == 0, sent.ToString());

        var m = Assert.Single(await d.WaitForMboxAsync(User, "hello " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Equal($"hi {token}", m.Header("Subject"));
        Assert.Equal([$"hello {token}"], m.BodyLines);

        string mbox = d.MboxOf(User);
        var listed = await d.RunToolWithInputAsync("h\nq\n", "mail", "-f", mbox);
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Contains("1 message 1 new", listed.Stdout);
        Assert.Contains($">N  1 ", listed.Stdout);
        Assert.Contains($"hi {token}", listed.Stdout);
        Assert.True(File.Exists(mbox) && File.ReadAllText(mbox).Contains(token, StringComparison.Ordinal));

        var deleted = await d.RunToolWithInputAsync("d 1\nq\n", "mail", "-f", mbox);
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Equal("", File.ReadAllText(mbox));
    }

    [Fact]
    public async Task With_the_daemon_down_the_mail_waits_in_maildrop()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await d.StopAsync();   // the queue exists, nobody picks up
        string token = Token.New();
        var sent = await d.RunToolWithInputAsync($"queued {token}\n", "mail", "-s", "later", $"{User}@{TestConfig.Myhostname}");
        Assert.True(sent.ExitCode == 0, sent.ToString());
        Assert.Single(Directory.GetFiles(Path.Combine(d.QueueDirectory, "maildrop")));

        await d.StartAsync();
        await d.WaitForMboxAsync(User, "queued " + token);
    }
}
