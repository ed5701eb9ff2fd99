using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story (issue 7): a forwarding loop that leaves through the queue (an alias to a domain
/// outside mydestination) and comes back is stopped by the Delivered-To: header the forwarded copy carries.</summary>
public sealed class DeliveryForwardLoopTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_loop_through_resubmission_bounces_with_mail_forwarding_loop()
    {
        string host = TestConfig.Myhostname;
        // other.test is not in mydestination, so fwa's target is forwarded as a new message; transport_maps
        // hands other.test back to local(8), where fwb points at fwa again.
        var config = TestConfig.Default.With("transport_maps", "inline:{ other.test=local: }") with
        {
            Aliases = [.. TestConfig.DefaultAliases(), "fwa: fwb@other.test", $"fwb: fwa@{host}", "owner-fwa: postmaster"],
        };
        await using var d = await DaemonProcess.StartAsync(config, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string first = await smtp.SendMailAsync("alice@sender.example", $"fwa@{host}", Token.Message("loop", "round trip"));

        string forwardedLine = await d.WaitForLogAsync(l => l.Contains($"{first}: to=<fwb@other.test>", StringComparison.Ordinal)
            && l.Contains("status=sent (forwarded as ", StringComparison.Ordinal), $"{first} forwarded");
        string second = forwardedLine.Split("forwarded as ")[1].TrimEnd(')');
        // Postfix aliases(5): owner-fwa exists, so the forwarded copy's envelope sender is owner-fwa.
        await d.WaitForLogAsync($"{second}: from=<owner-fwa@");
        // Postfix local(8): the copy carries "Delivered-To: fwa@HOST"; meeting that address again is a loop.
        string bounced = await d.WaitForLogAsync(l => l.Contains($"{second}: to=<", StringComparison.Ordinal)
            && l.Contains("status=bounced", StringComparison.Ordinal), $"{second} bounced");
        Assert.EndsWith($"dsn=5.4.6, status=bounced (mail forwarding loop for fwa@{host})", bounced);
        // The second message is not forwarded again.
        await d.WaitForLogAsync($"{second}: removed");
        Assert.DoesNotContain(d.MaillogLines(), l => l.Contains($"{second}: to=<fwb@other.test>", StringComparison.Ordinal)
            && l.Contains("forwarded as", StringComparison.Ordinal));
    }
}
