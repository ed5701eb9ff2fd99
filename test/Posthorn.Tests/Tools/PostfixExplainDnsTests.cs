using Posthorn.Daemon.Tools;
using Posthorn.Tests.Outbound;
using Xunit;

namespace Posthorn.Tests.Tools;

/// <summary><c>postfix explain</c> with a DNS list: the query goes to posthorn_dns_servers (dnsmasq on loopback),
/// as smtpd's would, and is printed under the restriction that made it.</summary>
public sealed class PostfixExplainDnsTests : IClassFixture<PostfixExplainDnsTests.Dns>, IDisposable
{
    public sealed class Dns : IDisposable
    {
        public LoopbackDns Server { get; } = new("--host-record=7.113.0.203.rbl.test,127.0.0.2");

        public void Dispose() => Server.Dispose();
    }

    private readonly Dns _dns;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-explain-dns-");

    public PostfixExplainDnsTests(Dns dns) => _dns = dns;

    public void Dispose() => _dir.Delete(recursive: true);

    private async Task<(int Status, string[] Lines)> Explain(string client)
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "main.cf"), $"""
            myhostname = mail.example.test
            mydestination = $myhostname, example.test
            mynetworks = 127.0.0.0/8
            alias_maps =
            local_recipient_maps =
            queue_directory = {_dir.FullName}/queue
            posthorn_dns_servers = 127.0.0.1:{_dns.Server.Port}
            smtpd_client_restrictions = permit_mynetworks, reject_rbl_client rbl.test
            """);
        File.WriteAllText(Path.Combine(_dir.FullName, "master.cf"), "smtp inet n - n - - smtpd\n");
        var stdout = new StringWriter();
        var ctx = new ToolContext { Out = stdout, Err = new StringWriter(), In = new StringReader(""), GetEnv = _ => null };
        int status = await PostfixCommand.RunAsync(["-c", _dir.FullName, "explain", "--client", client, "--to", "u@example.test"], ctx);
        return (status, stdout.ToString().Split('\n'));
    }

    [Fact]
    public async Task A_listed_client_shows_the_dns_query_and_the_rbl_reply()
    {
        var (status, lines) = await Explain("203.0.113.7");
        Assert.Equal(1, status);
        int rbl = Array.IndexOf(lines,
            "  reject_rbl_client rbl.test: reject -> 554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using rbl.test");
        Assert.True(rbl > 0, string.Join("\n", lines));
        Assert.Equal("    dns A 7.113.0.203.rbl.test: 127.0.0.2", lines[rbl + 1]);
        Assert.Equal("reply: 554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using rbl.test", lines.Last(l => l.Length > 0));
    }

    [Fact]
    public async Task An_unlisted_client_shows_the_negative_answer_and_is_accepted()
    {
        var (status, lines) = await Explain("203.0.113.8");
        Assert.Equal(0, status);
        Assert.Contains("  reject_rbl_client rbl.test: no decision", lines);
        Assert.Contains("    dns A 8.113.0.203.rbl.test: not found (NXDOMAIN)", lines);
    }
}
