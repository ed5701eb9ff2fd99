using Posthorn.Config;
using Posthorn.Config.Tables;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Config.Tables;

public class LookupKeysTests
{
    [Fact]
    public void Virtual_order_is_address_user_then_at_domain() =>
        Assert.Equal(["user@example.test", "user", "@example.test"], LookupKeys.ForAddress("user@example.test"));

    [Fact]
    public void Extensions_are_tried_before_the_unextended_forms() =>
        Assert.Equal(["user+ext@example.test", "user@example.test", "user+ext", "user", "@example.test"],
            LookupKeys.ForAddress("user+ext@example.test", "+"));

    [Fact]
    public void Remote_domains_skip_the_bare_user_forms() =>
        Assert.Equal(["user@remote.test", "@remote.test"], LookupKeys.ForAddress("user@remote.test", localDomain: false));

    [Fact]
    public void Access_order_is_address_domain_parents_then_user_at() =>
        Assert.Equal(["u@a.b.test", "a.b.test", "b.test", "test", "u@"], LookupKeys.ForAccessAddress("u@a.b.test", parentMatchesSubdomains: true));

    [Fact]
    public void Without_parent_matching_parents_are_dotted() =>
        Assert.Equal(["a.b.test", ".b.test", ".test"], LookupKeys.ForDomain("a.b.test.", parentMatchesSubdomains: false));

    [Fact]
    public void Parent_domain_matching_follows_the_parameter()
    {
        var cfg = TestConfig.Load("parent_domain_matches_subdomains = relay_domains\n");
        Assert.True(LookupKeys.ParentDomainMatchesSubdomains(cfg, "relay_domains"));
        Assert.False(LookupKeys.ParentDomainMatchesSubdomains(cfg, "smtpd_access_maps"));
    }

    [Fact]
    public void TryFind_returns_the_first_key_that_hits()
    {
        ILookupTable[] tables = [LookupTables.Open("inline:{ @example.test=catchall, user=local }", new LookupTableOptions())];
        Assert.True(LookupKeys.TryFind(tables, LookupKeys.ForAddress("user@example.test"), out string key, out string value));
        Assert.Equal(("user", "local"), (key, value));
    }
}
