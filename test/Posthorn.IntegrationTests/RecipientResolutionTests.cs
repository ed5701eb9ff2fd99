using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a client in mynetworks uses the old routing forms (<c>user%remote@local</c>) and a trailing
/// dot (<c>user@local.</c>), which Postfix accepts and routes where trivial-rewrite resolves them.</summary>
public sealed class RecipientResolutionTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    [Fact]
    public async Task Percent_hack_from_mynetworks_is_accepted_and_routed_to_the_remote_domain()
    {
        var cfg = TestConfig.Default.With("transport_maps", "inline:{ {remote.example=discard:taken by the test} }");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), 250);
        string hacked = $"someone%remote.example@{TestConfig.Myhostname}";
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{hacked}>"), "250 2.1.5 Ok");
        // Postfix accepts one trailing dot in the domain and routes without it.
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}.>"), "250 2.1.5 Ok");
        smtp.Expect(await smtp.CommandAsync("DATA"), 354);
        string token = Token.New();
        string id = (await smtp.SendDataAsync(Token.Message(token, "routed " + token))).QueueId ?? throw smtp.Fail("no queue id");
        await d.WaitForMboxAsync(User, "routed " + token);
        string remote = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<someone@remote.example>", StringComparison.Ordinal),
            $"{id} routed to remote.example");
        Assert.Contains($"orig_to=<{hacked}>", remote);
        Assert.Contains("status=sent", remote);
    }

    [Fact]
    public async Task Quoted_relay_attempt_from_outside_is_refused_with_the_address_unquoted()
    {
        await using var d = await DaemonProcess.StartAsync(TestConfig.Default with { Mynetworks = "192.0.2.0/24" }, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), 250);
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<\"user@remote.example\"@{TestConfig.Myhostname}>"),
            $"454 4.7.1 <user@remote.example@{TestConfig.Myhostname}>: Relay access denied");   // default defer_unauth_destination
    }
}
