using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 7): main.cf's mailbox_command_maps gives one user a mailbox command of their
/// own (postconf(5): it takes precedence over mailbox_command).</summary>
public sealed class DeliveryMailboxCommandMapsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_daemon_runs_the_users_command_from_mailbox_command_maps()
    {
        var dir = Directory.CreateTempSubdirectory("posthorn-cmdmaps-");
        try
        {
            // Others may enter and write: as root, the recipient root's command runs as default_privs.
            File.SetUnixFileMode(dir.FullName, (UnixFileMode)0x1FF);
            string mapped = Path.Combine(dir.FullName, "mapped"), plain = Path.Combine(dir.FullName, "plain");
            var config = TestConfig.Default
                .With("mailbox_command_maps", $"inline:{{ {{{TestConfig.User}=cat > {mapped}}} }}")
                .With("mailbox_command", $"cat > {plain}");
            await using var d = await DaemonProcess.StartAsync(config, output);
            await using var smtp = await d.ConnectAsync();
            await smtp.CommandAsync("EHLO client.example");
            string token = Token.New();
            string rcpt = $"{TestConfig.User}@{TestConfig.Myhostname}";
            string id = await smtp.SendMailAsync("alice@sender.example", rcpt, Token.Message(token, "by map " + token));
            string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{rcpt}>", StringComparison.Ordinal)
                && l.Contains("status=", StringComparison.Ordinal), $"{id} delivered");
            Assert.EndsWith($"status=sent (delivered to command: cat > {mapped})", line);
            Assert.Contains("by map " + token, File.ReadAllText(mapped));
            Assert.False(File.Exists(plain));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
