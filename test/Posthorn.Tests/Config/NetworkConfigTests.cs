using System.Net;
using Posthorn.Config;
using Xunit;

namespace Posthorn.Tests.Config;

public class NetworkConfigTests
{
    private static string[] Interfaces(string mainCf) =>
        [.. TestConfig.Load(mainCf).InetInterfaces().Select(a => a.ToString())];

    [Fact]
    public void All_interfaces_is_the_wildcard_of_each_protocol() =>
        Assert.Equal(["0.0.0.0", "::"], Interfaces(""));

    [Fact]
    public void Inet_protocols_ipv4_leaves_out_ipv6() =>
        Assert.Equal(["0.0.0.0"], Interfaces("inet_protocols = ipv4\n"));

    [Fact]
    public void Inet_protocols_ipv6_leaves_out_ipv4() =>
        Assert.Equal(["::1"], Interfaces("inet_protocols = ipv6\ninet_interfaces = loopback-only\n"));

    [Fact]
    public void Loopback_only_is_both_loopback_addresses() =>
        Assert.Equal(["127.0.0.1", "::1"], Interfaces("inet_interfaces = loopback-only\n"));

    [Fact]
    public void Explicit_addresses_and_host_names()
    {
        Assert.Equal(["127.0.0.1", "::1", "192.0.2.25"], Interfaces("inet_interfaces = 127.0.0.1, [::1] mx.example.test\n"));
    }

    [Fact]
    public void All_without_ipv6_support_is_ipv4_only()
    {
        using var t = new TestConfig("");
        var host = new HostInfo { Fqdn = "mail.example.test", SupportsIPv6 = false };
        Assert.Equal([IPAddress.Any], ConfigSnapshot.Load(t.Directory, host).InetInterfaces());
    }

    [Theory]
    [InlineData("inet_interfaces = not_a*host\n", "inet_interfaces: bad address or host name: \"not_a*host\"")]
    [InlineData("inet_interfaces = unknown.example.test\n", "inet_interfaces: host not found: unknown.example.test")]
    [InlineData("inet_protocols = ipv5\n", "bad inet_protocols value: \"ipv5\"")]
    public void Bad_interfaces_are_config_exceptions(string mainCf, string detail)
    {
        var cfg = TestConfig.Load(mainCf);
        Assert.Equal(detail, Assert.Throws<ConfigException>(() => cfg.InetInterfaces()).Detail);
    }

    [Theory]
    [InlineData("host", "127.0.0.1/32 192.168.10.5/32 10.1.2.3/32 [::1]/128")]
    [InlineData("subnet", "127.0.0.0/8 192.168.10.0/24 10.1.0.0/16 [::1]/128")]
    [InlineData("class", "127.0.0.0/8 192.168.10.0/24 10.0.0.0/8 [::1]/128")]
    public void Mynetworks_is_computed_from_mynetworks_style(string style, string expected)
    {
        var cfg = TestConfig.Load($"mynetworks_style = {style}\n");
        Assert.Equal(expected, cfg.MyNetworks().ToString());
        Assert.Equal(expected, cfg.Get("mynetworks"));
    }

    [Fact]
    public void Default_mynetworks_is_host_style()
    {
        var cfg = TestConfig.Load("");
        Assert.True(cfg.MyNetworks().Contains(IPAddress.Parse("192.168.10.5")));
        Assert.False(cfg.MyNetworks().Contains(IPAddress.Parse("192.168.10.6")));
        Assert.True(cfg.MyNetworks().Contains(IPAddress.Parse("::ffff:127.0.0.1")));
    }

    [Fact]
    public void Explicit_mynetworks_wins_over_the_style()
    {
        var cfg = TestConfig.Load("mynetworks_style = class\nmynetworks = 203.0.113.0/24 [2001:db8::]/64\n");
        Assert.True(cfg.MyNetworks().Contains(IPAddress.Parse("203.0.113.44")));
        Assert.False(cfg.MyNetworks().Contains(IPAddress.Parse("10.1.2.3")));
    }

    [Fact]
    public void Bad_mynetworks_and_style_are_config_exceptions()
    {
        var bad = TestConfig.Load("# x\nmynetworks = 10.0.0.1/8\n");
        var e = Assert.Throws<ConfigException>(() => bad.MyNetworks());
        Assert.Equal(2, e.Line);
        Assert.StartsWith("mynetworks: non-null host address bits", e.Detail);
        var style = TestConfig.Load("mynetworks_style = galaxy\n");
        Assert.Equal("unknown mynetworks_style parameter value: galaxy", Assert.Throws<ConfigException>(() => style.MyNetworks()).Detail);
    }
}
