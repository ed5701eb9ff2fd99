using Posthorn.Mua;
using Xunit;

namespace Posthorn.Tests.Mua;

/// <summary>RFC 5092 imap URLs as <c>posthorn mail --imap</c> takes them, and the errors reported before any screen.</summary>
public sealed class ImapUrlTests : IDisposable
{
    private readonly MuaFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Theory]
    [InlineData("imap://bob@mail.example.test", false, "bob", "mail.example.test", 143)]
    [InlineData("imaps://bob@mail.example.test", true, "bob", "mail.example.test", 993)]
    [InlineData("imap://bob%40example.test@127.0.0.1:10143/INBOX", false, "bob@example.test", "127.0.0.1", 10143)]
    [InlineData("imaps://bob;AUTH=PLAIN@[::1]:9993", true, "bob", "::1", 9993)]
    public void Urls_give_tls_mode_user_host_and_port(string text, bool secure, string user, string host, int port)
    {
        Assert.True(ImapUrl.TryParse(text, out var url, out _));
        Assert.Equal(new ImapUrl(secure, user, host, port), url);
    }

    [Theory]
    [InlineData("http://bob@example.test", "not an imap:// or imaps:// URL")]
    [InlineData("imap://mail.example.test", "no user name")]
    [InlineData("bob@example.test", "not an imap:// or imaps:// URL")]
    public void Bad_urls_are_reported_and_mail_exits_1(string text, string problem)
    {
        Assert.False(ImapUrl.TryParse(text, out _, out string why));
        Assert.Contains(problem, why);
        Assert.Equal(1, _f.Run("", "--imap", text));
        Assert.Contains(problem, _f.Err.ToString());
    }

    [Fact]
    public void A_refused_connection_is_reported_without_a_screen()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();   // nothing listens there now
        var ctx = _f.Context("") with { GetEnv = name => name == "POSTHORN_IMAP_PASSWORD" ? "pw" : null };
        Assert.Equal(1, MailProgram.Run(["--imap", $"imap://bob@127.0.0.1:{port}"], ctx));
        Assert.StartsWith($"mail: imap://bob@127.0.0.1:{port}/INBOX: ", _f.Err.ToString());
    }

    [Fact]
    public void Tui_on_a_missing_mailbox_is_reported_before_any_screen()
    {
        string missing = Path.Combine(_f.Dir, "nope");
        Assert.Equal(1, _f.Run("", "--tui", "-f", missing));
        Assert.Equal($"mail: {missing}: No such file or directory\n", _f.Err.ToString().Replace("\r\n", "\n"));
    }
}
