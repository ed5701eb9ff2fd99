using Posthorn.Core;
using Posthorn.Daemon.Policy;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>The recipient checks and the queue file see the address as trivial-rewrite resolves it (percent hack,
/// bang path, quoted @), and replies show it in internal (unquoted) form, as Postfix smtpd does.</summary>
public sealed class ResolvedRecipientTests : IDisposable
{
    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    private async Task<string?> RcptAsync(string mainCf, SmtpPath rcpt, string client)
    {
        var s = _h.Configure(mainCf);
        var evaluator = _h.Evaluator(s, isLocal: user => user == "user");
        var request = new PolicyRequest(PolicyHarness.Session(client), SmtpPath.FromAddress("a@sender.example"), rcpt, "RCPT");
        return (await evaluator.CheckRecipientAsync(request, CancellationToken.None)).Reply?.ToString();
    }

    [Theory]
    [InlineData("user%remote.example@example.test")]
    [InlineData("remote.example!user@example.test")]
    [InlineData("user@remote.example@example.test")]
    public async Task A_mynetworks_client_may_use_routing_operators_without_the_local_recipient_check(string address) =>
        Assert.Null(await RcptAsync("", SmtpPath.FromAddress(address), "127.0.0.1"));

    [Fact]
    public async Task Quoted_at_resolves_the_same_way()
    {
        Assert.Null(await RcptAsync("", new SmtpPath("\"user@remote.example\"", "example.test"), "127.0.0.1"));
    }

    [Fact]
    public async Task Local_users_are_still_checked_and_without_the_percent_hack_the_address_stays_local()
    {
        Assert.Equal("550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown in local recipient table",
            await RcptAsync("", SmtpPath.FromAddress("nosuch@example.test"), "127.0.0.1"));
        // user%local: resolves to user@example.test, a known local user.
        Assert.Null(await RcptAsync("", SmtpPath.FromAddress("user%example.test@example.test"), "127.0.0.1"));
        Assert.Equal("550 5.1.1 <user%remote.example@example.test>: Recipient address rejected: User unknown in local recipient table",
            await RcptAsync("allow_percent_hack = no", SmtpPath.FromAddress("user%remote.example@example.test"), "127.0.0.1"));
    }

    [Fact]
    public async Task Replies_show_a_quoted_local_part_unquoted_as_postfix_does()
    {
        Assert.Equal("454 4.7.1 <user@remote.example@example.test>: Relay access denied",   // defer_unauth_destination (default)
            await RcptAsync("", new SmtpPath("\"user@remote.example\"", "example.test"), "192.0.2.7"));
        string access = _h.Hash("rcpts", "odd@example.test REJECT\n");
        Assert.Equal("554 5.7.1 <odd@example.test>: Recipient address rejected: Access denied",
            await RcptAsync($"smtpd_recipient_restrictions = check_recipient_access {access}", new SmtpPath("\"odd\"", "example.test"), "192.0.2.7"));
    }

    [Fact]
    public async Task Queue_file_holds_the_resolved_recipient_with_the_given_one_as_original()
    {
        await using var d = new SmtpdSinkPolicyTests.Dialogue(_h, "", client: "127.0.0.1");
        await d.ReplyAsync();
        await d.CommandAsync("EHLO client.example");
        await d.CommandAsync("MAIL FROM:<a@sender.example>");
        Assert.Equal("250 2.1.5 Ok", await d.CommandAsync("RCPT TO:<someone%remote.example@example.test>"));
        Assert.Equal("250 2.1.5 Ok", await d.CommandAsync("RCPT TO:<user@example.test.>"));
        await d.CommandAsync("DATA");
        string queued = await d.CommandAsync("Subject: x\r\n\r\nbody\r\n.");
        Assert.StartsWith("250 2.0.0 Ok: queued as ", queued);
        var id = new QueueId(queued["250 2.0.0 Ok: queued as ".Length..]);
        var file = QueueFile.Read(d.Queue.PathOf(QueueName.Incoming, id));
        Assert.Equal([("someone@remote.example", "someone%remote.example@example.test"), ("user@example.test", null)],
            file.Envelope.Recipients.Select(r => (r.Address, r.OriginalRecipient)));
    }
}
