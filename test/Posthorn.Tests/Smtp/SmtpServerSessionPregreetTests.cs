using Posthorn.Smtp;
using Xunit;

namespace Posthorn.Tests.Smtp;

/// <summary>posthorn_pregreet_action / posthorn_pregreet_wait: a client that talks before the 220 banner
/// (postscreen(8)'s pregreet test: PREGREET log line, ignore | enforce | drop).</summary>
public sealed class SmtpServerSessionPregreetTests
{
    private const string Banner = "220 mail.example.test ESMTP Posthorn";

    private static void AssertPregreetLogged(SmtpHarness h) =>
        Assert.Contains(h.Log, l => l.Contains("postfix/postscreen[4242]: PREGREET 8 after ", StringComparison.Ordinal)
            && l.EndsWith(" from [127.0.0.1]:40025: EHLO x\\r\\n", StringComparison.Ordinal));

    [Theory]
    [InlineData("ignore", PregreetAction.Ignore)]
    [InlineData("Enforce", PregreetAction.Enforce)]
    [InlineData("drop", PregreetAction.Drop)]
    public void Action_values_parse(string value, PregreetAction expected)
    {
        Assert.True(PregreetActions.TryParse(value, out var action));
        Assert.Equal(expected, action);
        Assert.False(PregreetActions.TryParse("sleep", out _));
    }

    [Fact]
    public async Task Ignore_logs_the_pregreet_and_serves_the_client()
    {
        await using var h = SmtpHarness.StartTalkingFirst("EHLO x\r\n", new SessionExtras(PendingInput: () => 8));
        Assert.Equal(Banner, await h.ReadReplyAsync());
        Assert.StartsWith("250-mail.example.test", await h.ReadReplyAsync());   // the early EHLO is answered
        AssertPregreetLogged(h);
    }

    [Fact]
    public async Task Enforce_sends_the_banner_then_refuses_every_command_but_quit()
    {
        await using var h = SmtpHarness.StartTalkingFirst("EHLO x\r\n",
            new SessionExtras(PregreetAction: PregreetAction.Enforce, PendingInput: () => 8));
        Assert.Equal(Banner, await h.ReadReplyAsync());
        Assert.Equal("550 5.5.1 Protocol error", await h.ReadReplyAsync());
        Assert.Equal("550 5.5.1 Protocol error", await h.CommandAsync("MAIL FROM:<a@example.com>"));
        Assert.Equal("221 2.0.0 Bye", await h.CommandAsync("QUIT"));
        AssertPregreetLogged(h);
        Assert.Contains(h.Log, l => l.Contains("NOQUEUE: reject: MAIL from localhost[127.0.0.1]: 550 5.5.1 Protocol error", StringComparison.Ordinal));
        Assert.Empty(h.Sink.Senders);
    }

    [Fact]
    public async Task Drop_answers_521_and_closes_without_a_banner()
    {
        await using var h = SmtpHarness.StartTalkingFirst("EHLO x\r\n",
            new SessionExtras(PregreetAction: PregreetAction.Drop, PendingInput: () => 8));
        Assert.Equal("521 5.5.1 Protocol error", await h.ReadReplyAsync());
        Assert.True(await h.ServerClosedAsync());
        await h.FinishAsync();
        AssertPregreetLogged(h);
    }

    [Fact]
    public async Task With_a_wait_bytes_that_arrive_before_the_banner_are_caught_without_a_pending_count()
    {
        await using var h = SmtpHarness.StartTalkingFirst("EHLO x\r\n",
            new SessionExtras(PregreetAction: PregreetAction.Drop, PregreetWait: TimeSpan.FromSeconds(30)));
        // The bytes are already there, so the read returns at once; the 30 s wait is never served.
        Assert.Equal("521 5.5.1 Protocol error", await h.ReadReplyAsync());
        AssertPregreetLogged(h);
    }

    [Fact]
    public async Task A_client_that_waits_for_the_banner_gets_it_after_the_wait_and_nothing_is_logged()
    {
        await using var h = await SmtpHarness.StartAsync(extras: new SessionExtras(PregreetAction: PregreetAction.Drop,
            PregreetWait: TimeSpan.FromMilliseconds(100)));
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("NOOP"));
        Assert.DoesNotContain(h.Log, l => l.Contains("PREGREET", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_wait_nothing_pending_means_no_check()
    {
        await using var h = await SmtpHarness.StartAsync(extras: new SessionExtras(PregreetAction: PregreetAction.Drop, PendingInput: () => 0));
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("NOOP"));
        Assert.DoesNotContain(h.Log, l => l.Contains("PREGREET", StringComparison.Ordinal));
    }
}
