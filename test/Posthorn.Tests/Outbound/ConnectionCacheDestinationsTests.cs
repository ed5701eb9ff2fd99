using System.Text;
using Posthorn.Core;
using Posthorn.Daemon.Qmgr;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>Postfix smtp_connection_cache_destinations: "Permanently enable SMTP connection caching for the
/// specified destinations", with or without a backlog and with smtp_connection_cache_on_demand off.</summary>
public sealed class ConnectionCacheDestinationsTests
{
    private static SmtpTransport Transport(SmtpClientOptions o) =>
        new(o with { HeloName = "client.test", TlsLevel = SmtpTlsLevel.None },
            new NextHopResolver(new NoDnsResolver(), new HostLookupOptions(), new Random(1)),
            new MailLog(new ListLogSink(), "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System);

    private static Task<OutboundDeliveryResult> Send(SmtpTransport t, int port, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var message = new OutboundMessage(new QueueId("ABCDEF123456"), SmtpPath.FromAddress("alice@client.test"), bytes.Length, () => new MemoryStream(bytes));
        return t.DeliverAsync(new NextHop("127.0.0.1", port, SkipMx: true), message, [new OutboundRecipient("bob@remote.test")], backlog: false, CancellationToken.None);
    }

    [Fact]
    public async Task A_listed_relay_host_keeps_its_session_without_a_backlog_and_with_on_demand_off()
    {
        await using var server = new LoopbackSmtpServer();
        // Postfix: a relay host is named "without [] or non-default TCP port".
        var o = OutboundSettings.From(TestConfig.Load("smtp_connection_cache_on_demand = no\nsmtp_connection_cache_destinations = 127.0.0.1\n")).Smtp;
        var t = Transport(o);
        Assert.Equal(DeliveryOutcome.Sent, (await Send(t, server.Port, "one\n")).Recipients[0].Outcome);
        Assert.Equal(DeliveryOutcome.Sent, (await Send(t, server.Port, "two\n")).Recipients[0].Outcome);
        Assert.Equal(1, server.Sessions);
        Assert.Equal(["EHLO", "MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA"], server.Commands.Select(LoopbackSmtpServer.Verb));
    }

    [Fact]
    public async Task A_destination_found_in_a_table_is_cached_and_one_not_listed_is_not()
    {
        await using var server = new LoopbackSmtpServer();
        var listed = OutboundSettings.From(TestConfig.Load(
            "smtp_connection_cache_on_demand = no\nsmtp_connection_cache_destinations = inline:{ 127.0.0.1=yes }\n")).Smtp;
        var t = Transport(listed);
        await Send(t, server.Port, "one\n");
        await Send(t, server.Port, "two\n");
        Assert.Equal(1, server.Sessions);

        await using var server2 = new LoopbackSmtpServer();
        var other = Transport(OutboundSettings.From(TestConfig.Load(
            "smtp_connection_cache_on_demand = no\nsmtp_connection_cache_destinations = relay.example.test\n")).Smtp);
        await Send(other, server2.Port, "three\n");
        await Send(other, server2.Port, "four\n");
        Assert.Equal(2, server2.Sessions);
        Assert.Equal(2, server2.Commands.Count(c => c == "QUIT"));
    }
}
