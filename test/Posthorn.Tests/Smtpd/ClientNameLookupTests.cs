using System.Net;
using Posthorn.Daemon.Smtpd;
using Posthorn.Tests.Outbound;
using Xunit;

namespace Posthorn.Tests.Smtpd;

/// <summary>smtpd's client name: the hosts file, then DNS (dnsmasq on loopback), confirmed by a forward lookup.</summary>
public sealed class ClientNameLookupTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-hosts-");
    private readonly LoopbackDns _dns = new(
        "--ptr-record=5.2.0.192.in-addr.arpa,good.test", "--address=/good.test/192.0.2.5",
        "--ptr-record=6.2.0.192.in-addr.arpa,liar.test", "--address=/liar.test/192.0.2.99");

    private string Hosts(string text)
    {
        string path = Path.Combine(_dir.FullName, "hosts");
        File.WriteAllText(path, text);
        return path;
    }

    private ClientNameLookup Lookup(string hosts) =>
        new([new IPEndPoint(IPAddress.Loopback, _dns.Port)], TimeSpan.FromSeconds(2), hosts);

    [Fact]
    public async Task The_hosts_file_names_loopback_with_its_canonical_name()
    {
        var lookup = Lookup(Hosts("# comment\n127.0.0.1\tlocalhost loopback # trailing\n::1 localhost ip6-localhost\n"));
        Assert.Equal("localhost", await lookup.NameAsync(IPAddress.Loopback, default));
        Assert.Equal("localhost", await lookup.NameAsync(IPAddress.IPv6Loopback, default));
        Assert.Equal("localhost", await lookup.NameAsync(IPAddress.Loopback.MapToIPv6(), default));
    }

    [Fact]
    public async Task A_dns_name_is_kept_only_when_its_forward_lookup_gives_the_address_back()
    {
        var lookup = Lookup(Hosts("127.0.0.1 localhost\n"));
        Assert.Equal("good.test", await lookup.NameAsync(IPAddress.Parse("192.0.2.5"), default));
        Assert.Equal("unknown", await lookup.NameAsync(IPAddress.Parse("192.0.2.6"), default));   // liar.test is 192.0.2.99
        Assert.Equal("unknown", await lookup.NameAsync(IPAddress.Parse("192.0.2.7"), default));   // no PTR at all
    }

    [Fact]
    public async Task A_changed_hosts_file_is_read_again()
    {
        string path = Hosts("127.0.0.9 first.example\n");
        var lookup = Lookup(path);
        Assert.Equal("first.example", await lookup.NameAsync(IPAddress.Parse("127.0.0.9"), default));
        File.WriteAllText(path, "127.0.0.9 second.example\n");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
        Assert.Equal("second.example", await lookup.NameAsync(IPAddress.Parse("127.0.0.9"), default));
    }

    [Fact]
    public async Task A_dead_dns_server_gives_unknown_within_the_timeout()
    {
        var lookup = new ClientNameLookup([new IPEndPoint(IPAddress.Loopback, 9)], TimeSpan.FromMilliseconds(300), Hosts(""));
        Assert.Equal("unknown", await lookup.NameAsync(IPAddress.Parse("192.0.2.5"), default));
    }

    public void Dispose()
    {
        _dns.Dispose();
        _dir.Delete(recursive: true);
    }
}
