using System.Text;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a client that speaks CHUNKING (RFC 3030) sends its message in BDAT chunks over a raw
/// socket, and the real daemon delivers it, refuses what is too big, and queues nothing on a drop.</summary>
public sealed class SmtpdBdatTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    private static byte[] Chunk(string data, bool last) =>
        Encoding.UTF8.GetBytes($"BDAT {Encoding.UTF8.GetByteCount(data)}{(last ? " LAST" : "")}\r\n{data}");

    [Fact]
    public async Task A_message_in_three_pipelined_chunks_is_delivered_whole()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using var smtp = await d.ConnectAsync();
        Assert.Contains("CHUNKING", (await smtp.CommandAsync("EHLO client.example")).Texts);
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "250 2.1.5 Ok");
        string token = Token.New();
        // The chunk boundaries fall inside a header, inside a CRLF and inside a body line; ".." is not unstuffed.
        await smtp.SendRawAsync([
            .. Chunk($"Subject: {token}\r\nFr", last: false),
            .. Chunk("om: alice@sender.example\r\n\r\nfirst line\r", last: false),
            .. Chunk("\n..two dots " + token + "\r\n", last: true),
        ]);
        smtp.Expect(await smtp.ReadReplyAsync(), 250);
        smtp.Expect(await smtp.ReadReplyAsync(), 250);
        var queued = await smtp.ReadReplyAsync();
        smtp.Expect(queued, 250);
        Assert.NotNull(queued.QueueId);
        smtp.Expect(await smtp.CommandAsync("QUIT"), "221 2.0.0 Bye");

        var messages = await d.WaitForMboxAsync(User, "two dots " + token);
        var m = Assert.Single(messages, x => x.Body.Contains(token, StringComparison.Ordinal));
        Assert.Equal(token, m.Header("Subject"));
        Assert.Equal("alice@sender.example", m.Header("From"));
        Assert.Equal(["first line", "..two dots " + token], m.BodyLines);
        await d.WaitForLogAsync("bdat=3");
    }

    [Fact]
    public async Task An_unterminated_chunk_on_disconnect_queues_nothing()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        await using (var dropper = await d.ConnectAsync())
        {
            await dropper.CommandAsync("EHLO client.example");
            dropper.Expect(await dropper.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
            dropper.Expect(await dropper.CommandAsync("RCPT TO:<u@elsewhere.example>"), "250 2.1.5 Ok");
            await dropper.SendRawAsync("BDAT 5000 LAST\r\nSubject: half\r\n\r\nonly part of the chunk\r\n");
            dropper.Abort();
        }
        await d.WaitForLogAsync("lost connection after BDAT");
        Assert.Empty(d.QueueFiles());

        // The daemon keeps serving.
        await using var next = await d.ConnectAsync();
        Assert.StartsWith("220 ", next.Greeting!.Last);
    }

    [Fact]
    public async Task A_chunk_over_message_size_limit_gets_552_and_the_session_goes_on()
    {
        var cfg = TestConfig.Default.With("message_size_limit", "2000");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        smtp.Expect(await smtp.CommandAsync("MAIL FROM:<alice@sender.example>"), "250 2.1.0 Ok");
        smtp.Expect(await smtp.CommandAsync($"RCPT TO:<{LocalRcpt}>"), "250 2.1.5 Ok");
        await smtp.SendRawAsync(Chunk("Subject: big\r\n\r\n" + new string('x', 2500) + "\r\n", last: true));
        smtp.Expect(await smtp.ReadReplyAsync(), "552 5.3.4 Chunk exceeds message size limit");
        Assert.Empty(d.QueueFiles());

        string token = Token.New();
        await smtp.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message(token, "small " + token));
        await d.WaitForMboxAsync(User, "small " + token);
    }
}
