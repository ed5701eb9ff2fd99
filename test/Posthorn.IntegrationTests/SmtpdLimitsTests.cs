using System.Text;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a flood of connections or AUTH attempts from one client, or more connections than the
/// daemon will hold, is refused with Postfix's replies and warnings, and the daemon keeps serving.</summary>
public sealed class SmtpdLimitsTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    /// <summary>Loopback is in $mynetworks, which the event limits exempt by default: empty the exception list.</summary>
    private static TestConfig Limited(string name, string value) =>
        TestConfig.Default.With("smtpd_client_event_limit_exceptions", "").With(name, value);

    [Fact]
    public async Task Over_smtpd_client_connection_rate_limit_the_connection_gets_421_4_7_0()
    {
        await using var d = await DaemonProcess.StartAsync(Limited("smtpd_client_connection_rate_limit", "2"), output);
        // The daemon's start-up probe may have used part of the limit already: at most 2 are greeted, then 421.
        int greeted = 0;
        SmtpResponse? refusal = null;
        for (int i = 0; i < 5 && refusal is null; i++)
        {
            await using var c = await d.ConnectAsync();
            if (c.Greeting!.Code == 220)
            {
                greeted++;
                c.Expect(await c.CommandAsync("QUIT"), "221 2.0.0 Bye");
                continue;
            }
            refusal = c.Greeting;
            Assert.True(await c.IsClosedByServerAsync(), c.Transcript);
        }
        Assert.True(greeted <= 2, $"{greeted} connections greeted with a rate limit of 2");
        Assert.Equal($"421 4.7.0 {TestConfig.Myhostname} Error: too many connections from 127.0.0.1", refusal?.Last);
        await d.WaitForLogAsync("warning: Connection rate limit exceeded: 3 from localhost[127.0.0.1] for service");
    }

    [Fact]
    public async Task Over_smtpd_client_connection_count_limit_the_extra_connection_gets_421_and_is_logged_connect_to_disconnect()
    {
        await using var d = await DaemonProcess.StartAsync(Limited("smtpd_client_connection_count_limit", "2"), output);
        // The start-up probe's session may still be open for a moment: retry until two sessions are greeted.
        await using var first = await GreetedAsync(d);
        await using var second = await GreetedAsync(d);
        await using (var third = await d.ConnectAsync())
        {
            third.Expect(third.Greeting!, $"421 4.7.0 {TestConfig.Myhostname} Error: too many connections from 127.0.0.1");
            Assert.True(await third.IsClosedByServerAsync(), third.Transcript);
        }
        string warning = await d.WaitForLogAsync("warning: Connection concurrency limit exceeded: 3 from localhost[127.0.0.1] for service");
        await d.WaitForLogAsync("disconnect from localhost[127.0.0.1] commands=0");
        // Postfix smtpd(8) logs the refused client's "connect from" just before the warning.
        var lines = d.MaillogLines();
        int at = lines.ToList().IndexOf(warning);
        Assert.True(at > 0 && lines[at - 1].EndsWith("connect from localhost[127.0.0.1]", StringComparison.Ordinal), d.ReadMaillog());
        // The two greeted sessions keep working while the third is refused.
        second.Expect(await second.CommandAsync("EHLO client.example"), 250);
        string token = Token.New();
        await second.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message(token, "within the count " + token));
        await d.WaitForMboxAsync(User, "within the count " + token);
    }

    [Fact]
    public async Task Over_smtpd_client_auth_rate_limit_auth_gets_450_4_7_1()
    {
        var d = DaemonProcess.Create(Limited("smtpd_client_auth_rate_limit", "1")
            .With("smtpd_sasl_auth_enable", "yes").With("smtpd_sasl_type", "posthorn"), output);
        await using var _d = d;
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), "alice:{PLAIN}secret:1000:1000::/nonexistent::\n");
        File.AppendAllText(d.MainCfPath, $"\nposthorn_passwd_file = {d.ConfigDir}/passwd\n");
        await d.StartAsync();
        await using var smtp = await d.ConnectAsync();
        Assert.Contains(await smtp.CommandAsync("EHLO client.example") is var ehlo ? ehlo.Texts : [], t => t.StartsWith("AUTH ", StringComparison.Ordinal));
        string wrong = Convert.ToBase64String(Encoding.UTF8.GetBytes("\0alice\0wrong"));
        Assert.Equal(535, (await smtp.CommandAsync($"AUTH PLAIN {wrong}")).Code);
        string right = Convert.ToBase64String(Encoding.UTF8.GetBytes("\0alice\0secret"));
        smtp.Expect(await smtp.CommandAsync($"AUTH PLAIN {right}"), "450 4.7.1 Error: too many AUTH commands from 127.0.0.1");
        await d.WaitForLogAsync("warning: AUTH command rate limit exceeded: 2 from localhost[127.0.0.1] for service");
    }

    [Fact]
    public async Task Over_posthorn_max_smtpd_connections_a_connection_gets_421_and_a_freed_slot_serves_again()
    {
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default.With("posthorn_max_smtpd_connections", "2"), output);
        // The start-up probe's session may still hold a slot for a moment: retry until two sessions are greeted.
        var first = await GreetedAsync(d);
        await using var second = await GreetedAsync(d);
        await using (var third = await d.ConnectAsync())
        {
            third.Expect(third.Greeting!, "421 4.3.2 All server ports are busy");
            Assert.True(await third.IsClosedByServerAsync(), third.Transcript);
        }
        await d.WaitForLogAsync("too many smtpd connections (2, posthorn_max_smtpd_connections)");
        first.Expect(await first.CommandAsync("QUIT"), "221 2.0.0 Bye");
        await first.DisposeAsync();
        // The slot is given back when the session has ended; poll until a newcomer is greeted with 220.
        string token = Token.New();
        await using var next = await GreetedAsync(d);
        next.Expect(await next.CommandAsync("EHLO client.example"), 250);
        await next.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message(token, "after the limit " + token));
        await d.WaitForMboxAsync(User, "after the limit " + token);
    }

    /// <summary>Connects until the daemon greets with 220 (a slot is free), within 30 s.</summary>
    private static async Task<RawSmtp> GreetedAsync(DaemonProcess d)
    {
        RawSmtp? greeted = null;
        await Wait.UntilAsync(async () =>
        {
            var c = await d.ConnectAsync();
            if (c.Greeting!.Code == 220)
            {
                greeted = c;
                return true;
            }
            await c.DisposeAsync();
            return false;
        }, TimeSpan.FromSeconds(30), "a free smtpd slot", d.Diagnostics);
        return greeted!;
    }
}
