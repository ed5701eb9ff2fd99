using System.Text.RegularExpressions;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the assignment's tools — send with swaks, read with mutt (issue 2 step 9).</summary>
/// <remarks>Missing tools fail the test with the apt-get line; .ci/run installs them.</remarks>
public sealed class SwaksAndMuttTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;

    [Fact]
    public async Task Swaks_sends_to_user_at_localhost_and_the_message_arrives()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string token = Token.New();
        var r = await ExternalTool.RunAsync("swaks", "swaks",
        [
            "--server", $"127.0.0.1:{d.SmtpPort}", "--to", $"{User}@localhost", "--from", "a@b.example",
            "--helo", "client.example", "--header", $"Subject: swaks {token}", "--body", $"x {token}", "--timeout", "30",
        ]);
        Assert.True(r.ExitCode == 0, $"swaks failed:{Environment.NewLine}{r}{Environment.NewLine}{d.Diagnostics()}");
        string id = Regex.Match(r.Stdout, "<-  250 2\\.0\\.0 Ok: queued as ([0-9A-F]{10,})").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(id), $"no queued-as line in swaks' transcript:{Environment.NewLine}{r.Stdout}");

        var m = Assert.Single(await d.WaitForMboxAsync(User, "x " + token), x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.StartsWith("From a@b.example ", m.FromLine);
        Assert.Equal($"swaks {token}", m.Header("Subject"));
        Assert.Equal($"{User}@localhost", m.Header("Delivered-To"));
        Assert.Contains($"id {id}", m.Header("Received"));
        Assert.Contains($"x {token}", m.BodyLines);
    }

    [Fact]
    public async Task Swaks_with_pipelining_is_accepted()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string token = Token.New();
        var r = await ExternalTool.RunAsync("swaks", "swaks",
        [
            "--server", $"127.0.0.1:{d.SmtpPort}", "--to", $"{User}@localhost", "--from", "a@b.example",
            "--helo", "client.example", "--pipeline", "--body", $"pipelined {token}", "--timeout", "30",
        ]);
        Assert.True(r.ExitCode == 0, $"swaks --pipeline failed:{Environment.NewLine}{r}{Environment.NewLine}{d.Diagnostics()}");
        await d.WaitForMboxAsync(User, "pipelined " + token);
    }

    [Fact]
    public async Task Mutt_opens_the_mbox_and_shows_sender_subject_and_decoded_body()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string token = Token.New();
        string subject = $"Hello from Posthorn {token}";
        // Quoted-printable body: only a reader that parsed the MIME structure shows "ABC".
        string dataFile = Path.Combine(d.ConfigDir, "swaks-data.eml");
        File.WriteAllText(dataFile,
            $"From: Alice Example <alice@sender.example>\r\nTo: {User}@localhost\r\nSubject: {subject}\r\n" +
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
            $"Body =41=42=43 {token}\r\nsoft=\r\nbreak\r\n");
        var r = await ExternalTool.RunAsync("swaks", "swaks",
        [
            "--server", $"127.0.0.1:{d.SmtpPort}", "--to", $"{User}@localhost", "--from", "alice@sender.example",
            "--helo", "client.example", "--data", "@" + dataFile, "--timeout", "30",
        ]);
        Assert.True(r.ExitCode == 0, $"swaks failed:{Environment.NewLine}{r}{Environment.NewLine}{d.Diagnostics()}");
        await d.WaitForMboxAsync(User, token);

        string muttDir = Directory.CreateDirectory(Path.Combine(d.ConfigDir, "mutt-home")).FullName;
        var view = await Mutt.ReadFirstMessageAsync(d.MboxOf(User), muttDir);
        Assert.True(view.Screen.Contains(MuttView.IndexLine("alice@sender.example", subject), StringComparison.Ordinal),
            $"mutt's index does not show the message; screen:{Environment.NewLine}{view.Screen}");
        Assert.True(view.Screen.Contains(MuttView.StatusLine(1), StringComparison.Ordinal),
            $"mutt does not count one message; screen:{Environment.NewLine}{view.Screen}");
        Assert.Contains($"Subject: {subject}", view.Decoded);
        Assert.Contains("From: Alice Example <alice@sender.example>", view.Decoded);
        Assert.Contains($"Body ABC {token}", view.Decoded);
        Assert.Contains("softbreak", view.Decoded);
    }
}
