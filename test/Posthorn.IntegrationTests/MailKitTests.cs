using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a program sends mail with MailKit's SmtpClient, as any .NET application would.</summary>
public sealed class MailKitTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;

    [Fact]
    public async Task MailKit_sends_a_MimeMessage_with_8bit_text_and_it_arrives_intact()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string token = Token.New();
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Alice Example", "alice@sender.example"));
        message.To.Add(new MailboxAddress(User, $"{User}@{TestConfig.Myhostname}"));
        message.Subject = $"MailKit {token}";
        message.Body = new TextPart("plain") { Text = $"Grüße aus MailKit {token}\n" };

        using (var client = new SmtpClient { LocalDomain = "client.example", Timeout = 30_000 })
        {
            await client.ConnectAsync("127.0.0.1", d.SmtpPort, SecureSocketOptions.None);
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Pipelining), client.Capabilities.ToString());
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Size), client.Capabilities.ToString());
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.EightBitMime), client.Capabilities.ToString());
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.EnhancedStatusCodes), client.Capabilities.ToString());
            Assert.Equal(10_240_000u, client.MaxSize);
            string response = await client.SendAsync(message);
            Assert.Matches("^2\\.0\\.0 Ok: queued as [0-9A-F]{10,}$", response);
            await client.DisconnectAsync(quit: true);
        }

        await d.WaitForMboxAsync(User, token);
        var received = ParseMbox(d.MboxOf(User)).Single(m => m.Subject == $"MailKit {token}");
        Assert.Equal("alice@sender.example", Assert.IsType<MailboxAddress>(Assert.Single(received.From)).Address);
        Assert.Equal("Alice Example", received.From[0].Name);
        Assert.Equal(message.MessageId, received.MessageId);
        Assert.Equal($"Grüße aus MailKit {token}", (received.TextBody ?? "").TrimEnd());
    }

    /// <summary>MailKit's SmtpClient asks for DSN NOTIFY/ENVID through these overrides (RFC 3461), and sends with
    /// BDAT (RFC 3030) when the server offers CHUNKING and PreferSendAsBinaryData says so.</summary>
    private sealed class DsnSmtpClient(string envelopeId) : SmtpClient
    {
        protected override bool PreferSendAsBinaryData => true;

        protected override string GetEnvelopeId(MimeMessage message) => envelopeId;

        protected override DeliveryStatusNotification? GetDeliveryStatusNotifications(MimeMessage message, MailboxAddress mailbox) =>
            DeliveryStatusNotification.Success | DeliveryStatusNotification.Failure;
    }

    [Fact]
    public async Task MailKit_sends_with_smtputf8_dsn_bdat_and_pipelining_and_the_success_notice_comes_back()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        string token = Token.New();
        string rcpt = $"{User}@{TestConfig.Myhostname}";
        var message = new MimeMessage();
        // The sender is the local user (so the notice comes back to the same mbox), with UTF-8 in the header
        // (display name, subject) sent as raw UTF-8 under SMTPUTF8 rather than RFC 2047 words.
        message.From.Add(new MailboxAddress("Jörg Brückner", rcpt));
        message.To.Add(new MailboxAddress(User, rcpt));
        message.Subject = $"Grüße {token}";
        message.Body = new TextPart("plain") { Text = $"smtputf8 dsn bdat {token}\n" };
        using (var client = new DsnSmtpClient("env" + token) { LocalDomain = "client.example", Timeout = 30_000 })
        {
            await client.ConnectAsync("127.0.0.1", d.SmtpPort, SecureSocketOptions.None);
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.UTF8), client.Capabilities.ToString());
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Dsn), client.Capabilities.ToString());
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Chunking), client.Capabilities.ToString());
            var options = FormatOptions.Default.Clone();
            options.International = true;   // MailKit then says SMTPUTF8 on MAIL FROM
            await client.SendAsync(options, message, MailboxAddress.Parse(rcpt), [MailboxAddress.Parse(rcpt)]);
            await client.DisconnectAsync(quit: true);
        }
        var mbox = await d.WaitForMboxAsync(User, $"Original-Envelope-Id: env{token}");
        var original = Assert.Single(mbox, m => m.Body.Contains($"smtputf8 dsn bdat {token}", StringComparison.Ordinal) && m.Header("Subject") != "Successful Mail Delivery Report");
        Assert.Contains("with UTF8SMTP id", original.Header("Received"));
        Assert.Contains(mbox, m => m.Header("Subject") == "Successful Mail Delivery Report");
        // The disconnect line counts the commands: BDAT carried the message, and no DATA was used.
        string disconnect = await d.WaitForLogAsync(l => l.Contains("disconnect from", StringComparison.Ordinal) && l.Contains("bdat=", StringComparison.Ordinal), "a disconnect line with bdat=");
        Assert.DoesNotContain(" data=", disconnect);
    }

    [Fact]
    public async Task MailKit_sees_an_unknown_local_user_rejected_with_550()
    {
        await using var d = await DaemonProcess.StartAsync(output: output);
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("alice@sender.example"));
        message.To.Add(MailboxAddress.Parse("nobody1@mail.example.test"));
        message.Subject = "nobody";
        message.Body = new TextPart("plain") { Text = "x" };
        using var client = new SmtpClient { LocalDomain = "client.example", Timeout = 30_000 };
        await client.ConnectAsync("127.0.0.1", d.SmtpPort, SecureSocketOptions.None);
        var e = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(message));
        Assert.Equal(SmtpErrorCode.RecipientNotAccepted, e.ErrorCode);
        Assert.Equal(SmtpStatusCode.MailboxUnavailable, e.StatusCode);
        Assert.Equal("nobody1@mail.example.test", e.Mailbox?.Address);
    }

    private static List<MimeMessage> ParseMbox(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var parser = new MimeParser(stream, MimeFormat.Mbox);
        var messages = new List<MimeMessage>();
        while (!parser.IsEndOfStream) messages.Add(parser.ParseMessage());
        return messages;
    }
}
