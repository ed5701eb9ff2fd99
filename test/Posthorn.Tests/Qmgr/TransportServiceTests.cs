using Posthorn.Daemon.Qmgr;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Qmgr;

/// <summary>Transports are master.cf rows (transport(5): "the first name of a mail delivery service entry").</summary>
public sealed class TransportServiceTests
{
    private const string Listener = "127.0.0.1:2525 inet n - n - - smtpd\n";

    [Theory]
    [InlineData("smtp", DeliveryAgent.Smtp)]
    [InlineData("relay", DeliveryAgent.Smtp)]
    [InlineData("lmtp", DeliveryAgent.Lmtp)]
    [InlineData("local", DeliveryAgent.Local)]
    [InlineData("virtual", DeliveryAgent.Virtual)]
    [InlineData("error", DeliveryAgent.Error)]
    [InlineData("retry", DeliveryAgent.Retry)]
    [InlineData("discard", DeliveryAgent.Discard)]
    public void Without_delivery_rows_postfix_stock_transports_exist(string name, DeliveryAgent agent)
    {
        var cfg = TestConfig.Load("myhostname = mail.example.test\n", Listener);
        Assert.Equal(agent, TransportService.Find(cfg, name)?.Agent);
    }

    [Fact]
    public void An_unknown_transport_name_has_no_service()
    {
        var cfg = TestConfig.Load("myhostname = mail.example.test\n", Listener);
        Assert.Null(TransportService.Find(cfg, "dovecot"));
    }

    [Fact]
    public void With_delivery_rows_only_master_cf_counts_and_overrides_apply_to_that_transport()
    {
        var cfg = TestConfig.Load("myhostname = mail.example.test\nsmtp_helo_timeout = 300s\n", Listener + """
            smtp      unix  -       -       n       -       -       smtp
            slow      unix  -       -       n       -       -       smtp
              -o smtp_helo_timeout=5s
              -o slow_destination_concurrency_limit=2
            dovecot   unix  -       n       n       -       -       lmtp
            retry     unix  -       -       n       -       -       error
            """);

        var slow = TransportService.Find(cfg, "slow");
        Assert.Equal(DeliveryAgent.Smtp, slow?.Agent);
        Assert.Equal(TimeSpan.FromSeconds(5), slow!.Config.GetTime("smtp_helo_timeout"));
        Assert.Equal(2, slow.ConcurrencyLimit);
        Assert.Equal(TimeSpan.FromSeconds(300), TransportService.Find(cfg, "smtp")!.Config.GetTime("smtp_helo_timeout"));
        Assert.Equal(DeliveryAgent.Lmtp, TransportService.Find(cfg, "dovecot")?.Agent);
        Assert.Equal(DeliveryAgent.Retry, TransportService.Find(cfg, "retry")?.Agent);
        Assert.Equal("error", TransportService.Find(cfg, "retry")?.Program);
        // No "relay" row: Postfix would find no delivery agent for it.
        Assert.Null(TransportService.Find(cfg, "relay"));
    }

    [Fact]
    public void Limits_come_from_the_transport_parameter_else_the_default_one()
    {
        var cfg = TestConfig.Load("default_destination_concurrency_limit = 7\nlmtp_destination_recipient_limit = 3\n", Listener);
        Assert.Equal(7, TransportService.Find(cfg, "lmtp")!.ConcurrencyLimit);
        Assert.Equal(3, TransportService.Find(cfg, "lmtp")!.RecipientLimit);
        Assert.Equal(50, TransportService.Find(cfg, "discard")!.RecipientLimit);
    }
}
