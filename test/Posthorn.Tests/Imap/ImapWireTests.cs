using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MimeKit;
using Posthorn.Imap;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>imapd on the wire: raw dialogs, curl, MIME structure.</summary>
public sealed class ImapWireTests
{
    private static async Task<(TcpClient Tcp, StreamReader Reader, Stream Stream)> RawAsync(ImapTestServer server)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.ImapPort);
        var stream = tcp.GetStream();
        var reader = new StreamReader(stream, Encoding.ASCII);
        Assert.StartsWith("* OK [CAPABILITY IMAP4rev1", await reader.ReadLineAsync());
        return (tcp, reader, stream);
    }

    private static async Task<string> SendAsync(Stream stream, StreamReader reader, string command, string tag)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
        var sb = new StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            sb.Append(line).Append('\n');
            if (line.StartsWith(tag + " ", StringComparison.Ordinal)) break;
        }
        return sb.ToString();
    }

    [Fact]
    public async Task A_literal_over_the_limit_is_refused_before_it_is_sent()
    {
        await using var server = new ImapTestServer(new ImapSessionOptions { MaxLiteralSize = 100, AuthFailureDelay = TimeSpan.Zero });
        var (tcp, reader, stream) = await RawAsync(server);
        using var _ = tcp;
        Assert.Contains("a OK", await SendAsync(stream, reader, "a LOGIN alice secret", "a"));
        string reply = await SendAsync(stream, reader, "b APPEND INBOX {5000}", "b");
        Assert.StartsWith("b NO [TOOBIG]", reply);
        Assert.Contains("c OK", await SendAsync(stream, reader, "c NOOP", "c"));
    }

    [Fact]
    public async Task Deep_search_nesting_is_answered_bad()
    {
        await using var server = new ImapTestServer();
        server.Deliver("x");
        var (tcp, reader, stream) = await RawAsync(server);
        using var _ = tcp;
        await SendAsync(stream, reader, "a LOGIN alice secret", "a");
        await SendAsync(stream, reader, "b SELECT INBOX", "b");
        string deep = "c SEARCH " + new string('(', 10_000) + "ALL" + new string(')', 10_000);
        Assert.StartsWith("c BAD", await SendAsync(stream, reader, deep, "c"));
        string nots = "d SEARCH " + string.Concat(Enumerable.Repeat("NOT ", 5_000)) + "ALL";
        Assert.StartsWith("d BAD", await SendAsync(stream, reader, nots, "d"));
        Assert.Contains("* SEARCH 1", await SendAsync(stream, reader, "e SEARCH NOT NOT ALL", "e"));
    }

    [Fact]
    public async Task Curl_fetches_a_message_body()
    {
        if (!File.Exists("/usr/bin/curl")) return;
        await using var server = new ImapTestServer();
        server.Deliver("Via curl", "curl body line\n");
        // A custom command shows the untagged answer; curl prints the literal's size, not its octets.
        string custom = await CurlAsync("-s", "--url", $"imap://127.0.0.1:{server.ImapPort}/INBOX", "-u", "alice:secret", "-X", "FETCH 1 BODY[]");
        Assert.StartsWith("* 1 FETCH (BODY[] {", custom);
        // The URL form (FETCH 1 BODY[] by curl itself) prints the message.
        string message = await CurlAsync("-s", "--url", $"imap://127.0.0.1:{server.ImapPort}/INBOX;MAILINDEX=1", "-u", "alice:secret");
        Assert.Contains("Subject: Via curl", message);
        Assert.Contains("curl body line", message);
    }

    private static async Task<string> CurlAsync(params string[] args)
    {
        using var curl = Process.Start(new ProcessStartInfo("curl", args) { RedirectStandardOutput = true })!;
        string output = await curl.StandardOutput.ReadToEndAsync();
        await curl.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, curl.ExitCode);
        return output;
    }

    [Fact]
    public async Task Multipart_structure_and_part_sections_match_the_mime()
    {
        await using var server = new ImapTestServer();
        var builder = new BodyBuilder { TextBody = "the text\n" };
        builder.Attachments.Add("note.txt", Encoding.ASCII.GetBytes("attached bytes"), new ContentType("text", "plain"));
        var mime = new MimeMessage([new MailboxAddress("Bob", "bob@example.test")], [new MailboxAddress("", "alice@example.test")],
            "Parts", builder.ToMessageBody());
        using var client = new ImapClient();
        await client.ConnectAsync("127.0.0.1", server.ImapPort, MailKit.Security.SecureSocketOptions.None);
        await client.AuthenticateAsync("alice", "secret");
        await client.Inbox.AppendAsync(mime);
        await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var summary = (await client.Inbox.FetchAsync(0, -1, MessageSummaryItems.BodyStructure)).Single();
        var body = Assert.IsType<BodyPartMultipart>(summary.Body);
        Assert.Equal("mixed", body.ContentType.MediaSubtype);
        var attachment = summary.Attachments.Single();
        Assert.Equal("note.txt", attachment.FileName);
        var part = (MimePart)await client.Inbox.GetBodyPartAsync(0, attachment);
        using var content = new MemoryStream();
        await part.Content!.DecodeToAsync(content);
        Assert.Equal("attached bytes", Encoding.ASCII.GetString(content.ToArray()));
        var text = (TextPart)await client.Inbox.GetBodyPartAsync(0, summary.TextBody!);
        Assert.Equal("the text", text.Text.Trim());
        Assert.Equal((uint)Encoding.ASCII.GetByteCount(text.Text.ReplaceLineEndings("\r\n")), summary.TextBody!.Octets);
        await client.DisconnectAsync(true);
    }

    [Fact]
    public void Plaintext_logins_need_tls_or_loopback_unless_allowed()
    {
        var remote = new System.Net.IPEndPoint(System.Net.IPAddress.Parse("192.0.2.7"), 5000);
        Assert.False(new ImapSessionOptions { RemoteEndPoint = remote }.PlaintextAllowed);
        Assert.True(new ImapSessionOptions { RemoteEndPoint = remote, IsTls = true }.PlaintextAllowed);
        Assert.True(new ImapSessionOptions { RemoteEndPoint = remote, DisablePlaintextAuth = false }.PlaintextAllowed);
        Assert.True(new ImapSessionOptions { RemoteEndPoint = new(System.Net.IPAddress.Loopback, 5000) }.PlaintextAllowed);
    }
}
