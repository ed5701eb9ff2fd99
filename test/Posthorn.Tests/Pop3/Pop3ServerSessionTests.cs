using MailKit.Net.Pop3;
using Posthorn.Mail.Auth;
using Posthorn.Tests.Imap;
using Xunit;

namespace Posthorn.Tests.Pop3;

public sealed class Pop3ServerSessionTests
{
    [Fact]
    public async Task List_retr_dele_and_quit_remove_the_file()
    {
        await using var server = new ImapTestServer();
        server.Deliver("Keep", "stays\n");
        server.Deliver("Drop", "goes\n");
        using (var client = new Pop3Client())
        {
            await client.ConnectAsync("127.0.0.1", server.Pop3Port, MailKit.Security.SecureSocketOptions.None);
            await client.AuthenticateAsync("alice", "secret");
            Assert.Equal(2, client.Count);
            var uidls = await client.GetMessageUidsAsync();
            Assert.Equal(2, uidls.Distinct().Count());
            var sizes = await client.GetMessageSizesAsync();
            var message = await client.GetMessageAsync(1);
            Assert.Equal("Drop", message.Subject);
            Assert.Equal("goes", message.TextBody!.Trim());
            Assert.True(sizes[1] > 0);
            await client.DeleteMessageAsync(1);
            // Nothing is removed before QUIT (RFC 1939 §6).
            Assert.Equal(2, server.CurFiles().Length);
            await client.DisconnectAsync(true);
        }
        await ImapServerSessionTests.WaitAsync(() => server.CurFiles().Length == 1);
        using var again = new Pop3Client();
        await again.ConnectAsync("127.0.0.1", server.Pop3Port, MailKit.Security.SecureSocketOptions.None);
        await again.AuthenticateAsync("alice", "secret");
        Assert.Equal(1, again.Count);
        Assert.Equal("Keep", (await again.GetMessageAsync(0)).Subject);
        await again.DisconnectAsync(true);
    }

    [Fact]
    public void Sha512_crypt_hashes_verify_through_libcrypt()
    {
        // Known answer from the SHA-crypt specification (Drepper), rounds=5000 default.
        const string hash = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
        Assert.True(PasswdFile.Check("Hello world!", "{SHA512-CRYPT}" + hash));
        Assert.False(PasswdFile.Check("Hello world?", "{SHA512-CRYPT}" + hash));
        Assert.True(PasswdFile.Check("pw", "{PLAIN}pw"));
        Assert.False(PasswdFile.Check("pw", "{UNKNOWN}pw"));
    }
}
