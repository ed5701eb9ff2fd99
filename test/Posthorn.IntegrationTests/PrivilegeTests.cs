using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: local delivery writes as the recipient (DESIGN.md decision 6, issue 2 "Project shape").</summary>
/// <remarks>As root (CI), mail for another user is written with that user's ids: the mbox is theirs, never
/// root's. As an ordinary user (a developer), everything runs as that user and the mbox is theirs.</remarks>
public sealed class PrivilegeTests(ITestOutputHelper output)
{
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task Mbox_is_created_0600_and_owned_by_the_recipient_never_by_root()
    {
        // As root the recipient is `nobody`, so a root-owned file cannot pass; otherwise the current user.
        string recipient = Unix.IsRoot ? "nobody" : TestConfig.User;
        uint uid = await Unix.UidOfAsync(recipient) ?? throw new Xunit.Sdk.XunitException($"no passwd entry for {recipient}");

        await using var d = DaemonProcess.Create(output: output);
        string spool = Path.GetDirectoryName(d.MboxOf(recipient))!;
        // Like /var/mail with mode 1777: any user may create their own mailbox there.
        if (Unix.IsRoot) File.SetUnixFileMode(spool, (UnixFileMode)0b1_111_111_111);
        await d.StartAsync();

        string token = Token.New();
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            await smtp.SendMailAsync("alice@sender.example", $"{recipient}@{TestConfig.Myhostname}",
                Token.Message(token, "owned " + token, to: $"{recipient}@{TestConfig.Myhostname}"));
        }
        await d.WaitForMboxAsync(recipient, "owned " + token);

        string mbox = d.MboxOf(recipient);
        Assert.Equal(uid, await Unix.OwnerUidAsync(mbox));
        Assert.Equal(Mode0600, File.GetUnixFileMode(mbox));
        // No stray file (dot-lock, temp) left in the spool once delivery is over.
        await Wait.UntilAsync(() => Directory.EnumerateFileSystemEntries(spool).SequenceEqual([mbox]), TimeSpan.FromSeconds(30),
            $"{spool} to hold only the mbox",
            () => $"entries: {string.Join(", ", Directory.EnumerateFileSystemEntries(spool))}{Environment.NewLine}{d.Diagnostics()}");
    }

    [Fact]
    public async Task Queue_and_log_files_belong_to_mail_owner()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string id;
        await using (var smtp = await d.ConnectAsync())
        {
            await smtp.CommandAsync("EHLO client.example");
            id = await smtp.SendMailAsync("alice@sender.example", "u@elsewhere.example", Token.Message("owner", "owner", to: "u@elsewhere.example"));
        }
        // Once deferred the queue file stays put until its retry time.
        await d.WaitForLogAsync(l => l.Contains($"{id}: to=<u@elsewhere.example>", StringComparison.Ordinal)
            && l.Contains("status=deferred", StringComparison.Ordinal), $"{id} deferred");
        // mail_owner is the current user in the test config (root on CI).
        uint owner = await Unix.UidOfAsync(TestConfig.User) ?? throw new Xunit.Sdk.XunitException("no passwd entry for the current user");
        // The status line comes before qmgr moves the file from active/ to deferred/: wait for the move.
        string deferredDir = Path.Combine(d.QueueDirectory, "deferred") + Path.DirectorySeparatorChar;
        await Wait.UntilAsync(() => d.QueueFiles() is { Count: > 0 } q && q.Any(f => f.StartsWith(deferredDir, StringComparison.Ordinal))
            && !q.Any(f => f.Contains($"{Path.DirectorySeparatorChar}active{Path.DirectorySeparatorChar}", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), $"{id} in the deferred queue", d.Diagnostics);
        var files = d.QueueFiles();
        Assert.NotEmpty(files);
        foreach (var f in files) Assert.Equal(owner, await Unix.OwnerUidAsync(f));
        Assert.Equal(owner, await Unix.OwnerUidAsync(d.MaillogPath));
    }
}
