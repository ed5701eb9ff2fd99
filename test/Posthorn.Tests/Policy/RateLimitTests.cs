using Posthorn.Config;
using Posthorn.Daemon.Policy;
using Posthorn.Tests.Queue;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>smtpd_client_message_rate_limit and smtpd_client_recipient_rate_limit over anvil's per-client counters.</summary>
public sealed class RateLimitTests : IDisposable
{
    private readonly PolicyHarness _h = new();
    private readonly FixedClock _clock = new(new DateTimeOffset(2025, 11, 25, 12, 0, 0, TimeSpan.Zero));

    public void Dispose() => _h.Dispose();

    private RateLimits Limits(string mainCf)
    {
        var s = _h.Configure(mainCf);
        var r = RestrictionSettings.From(s.Config, clock: _clock);
        return new RateLimits(r, r.Anvil, _h.Log);
    }

    [Fact]
    public void Message_rate_over_the_limit_gets_450_4_7_1_too_much_mail_until_the_time_unit_ends()
    {
        var limits = Limits("smtpd_client_message_rate_limit = 2\nanvil_rate_time_unit = 60s");
        var client = PolicyHarness.Session("192.0.2.7");
        Assert.Null(limits.CheckMessage(client));
        Assert.Null(limits.CheckMessage(client));
        Assert.Equal("450 4.7.1 Error: too much mail from 192.0.2.7", limits.CheckMessage(client)?.ToString());
        Assert.Contains(_h.Lines, l => l.Contains("warning: Message delivery request rate limit exceeded: 3 from client.example[192.0.2.7] for service smtp"));
        // Another client has its own counter.
        Assert.Null(limits.CheckMessage(PolicyHarness.Session("192.0.2.8")));
        _clock.Now += TimeSpan.FromSeconds(60);
        Assert.Null(limits.CheckMessage(client));
    }

    [Fact]
    public void Recipient_rate_over_the_limit_gets_450_4_7_1_too_many_recipients()
    {
        var limits = Limits("smtpd_client_recipient_rate_limit = 1");
        var client = PolicyHarness.Session("192.0.2.7");
        Assert.Null(limits.CheckRecipient(client));
        Assert.Equal("450 4.7.1 Error: too many recipients from 192.0.2.7", limits.CheckRecipient(client)?.ToString());
    }

    [Fact]
    public void Mynetworks_clients_and_a_zero_limit_are_not_limited()
    {
        var limits = Limits("smtpd_client_recipient_rate_limit = 1");
        var inside = PolicyHarness.Session("127.0.0.1");
        Assert.Null(limits.CheckRecipient(inside));
        Assert.Null(limits.CheckRecipient(inside));
        var none = Limits("smtpd_client_recipient_rate_limit = 0");
        var client = PolicyHarness.Session("192.0.2.7");
        Assert.Null(none.CheckRecipient(client));
        Assert.Null(none.CheckRecipient(client));
    }
}
