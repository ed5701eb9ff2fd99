using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>RFC 6531 on the way out, as Postfix's smtp(8) decides: SMTPUTF8 on MAIL FROM when the sender asked for it
/// and the server offers it; a bounce with 5.6.7 when the message needs it and the server does not offer it.</summary>
public sealed class SmtpTransportUtf8Tests
{
    private static readonly QueueId Id = new("ABCDEF123456");
    private readonly ListLogSink _sink = new();

    private SmtpTransport Transport() =>
        new(new SmtpClientOptions { HeloName = "client.test", ConnectTimeout = TimeSpan.FromSeconds(5) },
            new NextHopResolver(new NoDnsResolver(), new HostLookupOptions(), new Random(1)),
            new MailLog(_sink, "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System);

    private static OutboundMessage Message(string content, bool requested, string sender = "alice@client.test")
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        return new OutboundMessage(Id, SmtpPath.FromAddress(sender), bytes.Length, () => new MemoryStream(bytes), requested);
    }

    private static LoopbackSmtpServer Server(bool smtputf8) => new(c => LoopbackSmtpServer.Verb(c) == "EHLO"
        ? smtputf8 ? "250-mx.test\r\n250-8BITMIME\r\n250 SMTPUTF8" : "250-mx.test\r\n250 8BITMIME"
        : LoopbackSmtpServer.DefaultReply(c));

    private static NextHop Hop(LoopbackSmtpServer server) => new("127.0.0.1", server.Port, SkipMx: true);

    [Fact]
    public async Task A_requested_smtputf8_goes_on_mail_from_when_the_server_offers_it()
    {
        await using var server = Server(smtputf8: true);
        var result = await Transport().DeliverAsync(Hop(server), Message("Subject: caf\u00e9\n\nbody\n", requested: true, "j\u00f6rg@client.test"),
            [new OutboundRecipient("b\u00f6b@remote.test")], CancellationToken.None);

        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.Equal("MAIL FROM:<j\u00f6rg@client.test> BODY=8BITMIME SMTPUTF8", server.Commands[1]);
    }

    [Fact]
    public async Task Without_the_request_no_smtputf8_is_sent_even_when_offered()
    {
        await using var server = Server(smtputf8: true);
        await Transport().DeliverAsync(Hop(server), Message("Subject: hi\n\nbody\n", requested: false), [new OutboundRecipient("bob@remote.test")], CancellationToken.None);
        Assert.Equal("MAIL FROM:<alice@client.test>", server.Commands[1]);
    }

    [Theory]
    [InlineData("j\u00f6rg@client.test", "bob@remote.test", "Subject: hi")]      // UTF-8 sender
    [InlineData("alice@client.test", "b\u00f6b@remote.test", "Subject: hi")]     // UTF-8 recipient
    [InlineData("alice@client.test", "bob@remote.test", "Subject: caf\u00e9")]    // UTF-8 header
    public async Task Mail_that_needs_smtputf8_bounces_5_6_7_at_a_server_without_it(string sender, string rcpt, string header)
    {
        await using var server = Server(smtputf8: false);
        var result = await Transport().DeliverAsync(Hop(server), Message($"{header}\n\nbody\n", requested: true, sender),
            [new OutboundRecipient(rcpt)], CancellationToken.None);

        var r = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Bounced, r.Outcome);
        Assert.Equal("5.6.7", r.Dsn.ToString());
        Assert.Equal("SMTPUTF8 is required, but was not offered by host 127.0.0.1[127.0.0.1]", r.Text);
        Assert.DoesNotContain(server.Commands, c => c.StartsWith("MAIL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_requested_but_ascii_only_message_goes_to_a_server_without_smtputf8()
    {
        await using var server = Server(smtputf8: false);
        var result = await Transport().DeliverAsync(Hop(server), Message("Subject: hi\n\nb\u00f6dy\n", requested: true),
            [new OutboundRecipient("bob@remote.test")], CancellationToken.None);
        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.Equal("MAIL FROM:<alice@client.test> BODY=8BITMIME", server.Commands[1]);
    }
}
