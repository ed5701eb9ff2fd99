using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>posthorn_smtp_use_bdat (Posthorn extension, RFC 3030): BDAT chunks instead of DATA when the server
/// offers CHUNKING; the content is CRLF-converted but never dot-stuffed.</summary>
public sealed class SmtpTransportBdatTests
{
    private static Task<OutboundDeliveryResult> DeliverAsync(LoopbackSmtpServer server, bool useBdat, byte[] content, bool lmtp = false)
    {
        var options = new SmtpClientOptions { HeloName = "client.test", TlsLevel = SmtpTlsLevel.None, UseBdat = useBdat };
        var message = new OutboundMessage(new QueueId("ABCDEF123456"), SmtpPath.FromAddress("a@client.test"), content.Length, () => new MemoryStream(content));
        var resolver = new NextHopResolver(new NoDnsResolver(), new HostLookupOptions(), new Random(1));
        var log = new MailLog(new ListLogSink(), "postfix", "client.test", TimeProvider.System, 1);
        if (lmtp)
        {
            var t = new LmtpTransport(options, resolver, log, TimeProvider.System, "client.test");
            return t.DeliverAsync(new LmtpDestination(null, new NextHop("127.0.0.1", server.Port, SkipMx: true)), message,
                [new OutboundRecipient("b@remote.test"), new OutboundRecipient("c@remote.test")], CancellationToken.None);
        }
        return new SmtpTransport(options, resolver, log, TimeProvider.System)
            .DeliverAsync(new NextHop("127.0.0.1", server.Port, SkipMx: true), message, [new OutboundRecipient("b@remote.test")], CancellationToken.None);
    }

    [Fact]
    public async Task With_chunking_offered_the_content_goes_in_one_bdat_last_chunk_without_dot_stuffing()
    {
        await using var server = new LoopbackSmtpServer { OfferChunking = true };
        var result = await DeliverAsync(server, useBdat: true, "Subject: b\n\n.leading dot\nend"u8.ToArray());
        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.DoesNotContain("DATA", server.Commands);
        string expected = "Subject: b\r\n\r\n.leading dot\r\nend\r\n";
        Assert.Equal([$"BDAT {expected.Length} LAST"], server.BdatChunks);
        Assert.Equal(expected, Encoding.ASCII.GetString(Assert.Single(server.Messages)));
    }

    [Fact]
    public async Task A_large_message_goes_in_several_chunks_and_arrives_byte_for_byte()
    {
        var sb = new StringBuilder("Subject: big\n\n");
        for (int i = 0; i < 20_000; i++) sb.Append("line ").Append(i).Append('\n');
        var content = Encoding.ASCII.GetBytes(sb.ToString());
        await using var server = new LoopbackSmtpServer { OfferChunking = true };
        var result = await DeliverAsync(server, useBdat: true, content);
        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.True(server.BdatChunks.Count > 1, string.Join(", ", server.BdatChunks));
        Assert.EndsWith(" LAST", server.BdatChunks[^1]);
        Assert.Single(server.BdatChunks, c => c.EndsWith(" LAST", StringComparison.Ordinal));
        Assert.Equal(sb.ToString().Replace("\n", "\r\n", StringComparison.Ordinal), Encoding.ASCII.GetString(Assert.Single(server.Messages)));
    }

    [Fact]
    public async Task Without_the_parameter_or_without_chunking_at_the_server_data_is_used()
    {
        await using var offering = new LoopbackSmtpServer { OfferChunking = true };
        await DeliverAsync(offering, useBdat: false, "x\n"u8.ToArray());
        await using var plain = new LoopbackSmtpServer();
        await DeliverAsync(plain, useBdat: true, "x\n"u8.ToArray());
        Assert.Contains("DATA", offering.Commands);
        Assert.Contains("DATA", plain.Commands);
        Assert.Empty(offering.BdatChunks);
        Assert.DoesNotContain(plain.Commands, c => c.StartsWith("BDAT", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Over_lmtp_the_last_chunk_gets_one_reply_per_recipient()
    {
        await using var server = new LoopbackSmtpServer
        {
            OfferChunking = true,
            Lmtp = true,
            LmtpDataDone = rcpt => rcpt.StartsWith('c') ? "452 4.2.2 <c@remote.test> Mailbox full" : $"250 2.0.0 <{rcpt}> Saved",
        };
        var result = await DeliverAsync(server, useBdat: true, "Subject: l\n\nhi\n"u8.ToArray(), lmtp: true);
        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.Equal(DeliveryOutcome.Deferred, result.Recipients[1].Outcome);
        Assert.Contains("(in reply to BDAT command)", result.Recipients[1].Text);
        Assert.Single(server.BdatChunks);
    }
}
