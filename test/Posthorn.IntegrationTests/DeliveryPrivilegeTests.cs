using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 7, DESIGN.md decision 6): as root the daemon writes each mailbox as its owner,
/// with Postfix's modes, and an alias command of the root-owned alias map runs as default_privs.</summary>
/// <remarks>As an ordinary user only that user exists for the daemon: the second user and the uid switch
/// cannot be shown, and the test says so in its output instead of pretending.</remarks>
public sealed class DeliveryPrivilegeTests(ITestOutputHelper output)
{
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Mode0700 = Mode0600 | UnixFileMode.UserExecute;

    /// <summary>Two accounts every Debian-like system has (root delivers to them), or just the current user.</summary>
    private async Task<IReadOnlyList<(string Name, uint Uid)>> RecipientsAsync()
    {
        if (!Unix.IsRoot)
        {
            output.WriteLine($"not root: only {TestConfig.User} can receive mail here; the second user and the ownership switch are not checked");
            return [(TestConfig.User, Unix.EffectiveUid)];
        }
        var users = new List<(string, uint)>();
        foreach (var name in new[] { "nobody", "daemon" })
            users.Add((name, await Unix.UidOfAsync(name) ?? throw new Xunit.Sdk.XunitException($"this test needs the account {name}")));
        return users;
    }

    private static async Task<string> SendAsync(DaemonProcess d, IEnumerable<string> recipients, string token)
    {
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        return await smtp.SendMailAsync("alice@sender.example", recipients.ToList(), Token.Message(token, "body " + token));
    }

    [Fact]
    public async Task Two_users_each_get_a_0600_mbox_of_their_own()
    {
        var users = await RecipientsAsync();
        await using var d = await DaemonProcess.StartAsync(output: output);
        string token = Token.New();
        await SendAsync(d, users.Select(u => $"{u.Name}@{TestConfig.Myhostname}"), token);
        foreach (var (name, uid) in users)
        {
            var m = Assert.Single(await d.WaitForMboxAsync(name, "body " + token));
            Assert.Equal($"{name}@{TestConfig.Myhostname}", m.Header("Delivered-To"));
            string mbox = d.MboxOf(name);
            Assert.Equal((name, uid), (name, await Unix.OwnerUidAsync(mbox)));
            Assert.Equal((name, Mode0600), (name, File.GetUnixFileMode(mbox)));
        }
    }

    [Fact]
    public async Task Two_users_each_get_a_Maildir_of_their_own_with_0700_directories_and_0600_files()
    {
        var users = await RecipientsAsync();
        await using var d = DaemonProcess.Create(TestConfig.Default with { SpoolMaildir = true }, output);
        // Like a 1777 /var/mail: each user creates its own Maildir there (Postfix maildir.c writes as the user).
        File.SetUnixFileMode(Path.GetDirectoryName(d.MaildirOf("x"))!, (UnixFileMode)0x3FF);
        await d.StartAsync();
        string token = Token.New();
        await SendAsync(d, users.Select(u => $"{u.Name}@{TestConfig.Myhostname}"), token);
        foreach (var (name, uid) in users)
        {
            string file = await d.WaitForMaildirAsync(name, "body " + token);
            Assert.Equal((name, Mode0600), (name, File.GetUnixFileMode(file)));
            Assert.Equal((name, uid), (name, await Unix.OwnerUidAsync(file)));
            foreach (var dir in new[] { "", "tmp", "new", "cur" })
            {
                string path = Path.Combine(d.MaildirOf(name), dir);
                Assert.Equal((path, Mode0700), (path, File.GetUnixFileMode(path)));
                Assert.Equal((path, uid), (path, await Unix.OwnerUidAsync(path)));
            }
        }
    }

    [Fact]
    public async Task An_alias_command_of_the_root_owned_alias_map_runs_as_default_privs()
    {
        // Where the command may write whoever it runs as.
        var outDir = Directory.CreateTempSubdirectory("posthorn-it-id-");
        try
        {
            File.SetUnixFileMode(outDir.FullName, (UnixFileMode)0x3FF);
            string uidFile = Path.Combine(outDir.FullName, "uid");
            var config = TestConfig.Default with
            {
                Aliases = [.. TestConfig.DefaultAliases(), $"runid: \"|id -u > {uidFile}; id -G >> {uidFile}\""],
            };
            await using var d = await DaemonProcess.StartAsync(config, output);
            string token = Token.New();
            string id = await SendAsync(d, [$"runid@{TestConfig.Myhostname}"], token);
            await d.WaitForLogAsync(l => l.Contains($"{id}: to=<runid@{TestConfig.Myhostname}>", StringComparison.Ordinal)
                && l.Contains("status=sent (delivered to command: id -u", StringComparison.Ordinal), "the command delivery");

            string[] lines = File.ReadAllLines(uidFile);
            if (!Unix.IsRoot)
            {
                output.WriteLine("not root: the command runs with the daemon's own uid; the switch to default_privs is not checked");
                Assert.Equal(Unix.EffectiveUid.ToString(), lines[0]);
                return;
            }
            // Postfix local(8): commands of an alias map owned by root run as default_privs (nobody), with only its group.
            var nobodyGid = (await ProcessRunner.RunAsync("id", ["-g", "nobody"], TimeSpan.FromSeconds(30))).Stdout.Trim();
            Assert.Equal([(await Unix.UidOfAsync("nobody"))!.Value.ToString(), nobodyGid], lines);
        }
        finally
        {
            outDir.Delete(recursive: true);
        }
    }
}
