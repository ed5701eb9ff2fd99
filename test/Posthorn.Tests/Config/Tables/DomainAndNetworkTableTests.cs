using System.Net;
using Posthorn.Config.Tables;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Config.Tables;

public class DomainAndNetworkTableTests
{
    [Fact]
    public void Mydestination_table_entries_are_looked_up()
    {
        var cfg = TestConfig.Load("mydestination = localhost, inline:{ example.test=1, { other.test = yes } }\n");
        var d = cfg.MyDestination();
        Assert.True(d.Matches("localhost"));
        Assert.True(d.Matches("Example.Test"));
        Assert.True(d.Matches("other.test."));
        Assert.False(d.Matches("sub.example.test"));
        Assert.Single(d.Tables);
        Assert.Empty(cfg.Warnings);
    }

    [Fact]
    public void Relay_domains_match_subdomains_by_default_and_exclusions_win_first()
    {
        var cfg = TestConfig.Load("relay_domains = !private.example.test, example.test, .dotted.test, texthash:/nonexistent/relay\n");
        var r = cfg.RelayDomains();
        Assert.True(r.Matches("example.test"));
        Assert.True(r.Matches("a.b.example.test"));
        Assert.False(r.Matches("private.example.test"));
        Assert.True(r.Matches("x.dotted.test"));
        Assert.Contains(cfg.Warnings, w => w.StartsWith("texthash:/nonexistent/relay is unavailable.", StringComparison.Ordinal));
        // The unavailable table is consulted only when nothing before it decided.
        Assert.Throws<LookupTableException>(() => r.Matches("unknown.test"));
    }

    [Fact]
    public void Relay_domains_table_uses_parent_names_when_parent_matching()
    {
        var cfg = TestConfig.Load("relay_domains = inline:{ example.test=x }\n");
        Assert.True(cfg.RelayDomains().Matches("mx.example.test"));
        var exact = TestConfig.Load("relay_domains = inline:{ example.test=x }\nparent_domain_matches_subdomains =\n");
        Assert.False(exact.RelayDomains().Matches("mx.example.test"));
    }

    [Fact]
    public void Mynetworks_cidr_table_entries_are_looked_up()
    {
        using var d = new TableDir();
        string cidr = d.Write("nets", "192.0.2.0/24 OK\n2001:db8::/32 OK\n");
        var cfg = TestConfig.Load($"mynetworks = 127.0.0.0/8, !cidr:{d.Path}/none, cidr:{cidr}\n");
        var n = cfg.MyNetworks();
        Assert.True(n.Contains(IPAddress.Loopback));
        Assert.Throws<LookupTableException>(() => n.Contains(IPAddress.Parse("192.0.2.7")));
        var cfg2 = TestConfig.Load($"mynetworks = 127.0.0.0/8 cidr:{cidr}\n");
        var n2 = cfg2.MyNetworks();
        Assert.True(n2.Contains(IPAddress.Parse("192.0.2.7")));
        Assert.True(n2.Contains(IPAddress.Parse("2001:db8::9")));
        Assert.False(n2.Contains(IPAddress.Parse("198.51.100.1")));
        Assert.Equal($"127.0.0.0/8 cidr:{cidr}", n2.ToString());
    }

    [Fact]
    public void Unbracketed_IPv6_in_mynetworks_is_still_an_address_not_a_table()
    {
        var cfg = TestConfig.Load("mynetworks = fe80::/10\n");
        Assert.True(cfg.MyNetworks().Contains(IPAddress.Parse("fe80::1")));
    }
}
