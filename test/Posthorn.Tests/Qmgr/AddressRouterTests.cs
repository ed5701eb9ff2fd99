using Posthorn.Daemon.Qmgr;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Qmgr;

/// <summary>trivial-rewrite(8) address classes and transport(5) lookups, against postconf(5)/transport(5).</summary>
public sealed class AddressRouterTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-route-");

    public void Dispose() => _dir.Delete(recursive: true);

    private const string Base = """
        myhostname = mail.example.test
        mydomain = example.test
        mydestination = $myhostname, localhost
        inet_interfaces = 127.0.0.1
        virtual_alias_domains = alias.test
        virtual_mailbox_domains = hosted.test, example.test
        relay_domains = relayed.test

        """;

    private static AddressRouter Router(string extra = "") => AddressRouter.From(TestConfig.Load(Base + extra));

    /// <summary>A router whose transport_maps is a texthash table with <paramref name="lines"/>.</summary>
    private AddressRouter WithTransportMap(string extra, params string[] lines)
    {
        string file = Path.Combine(_dir.FullName, "transport");
        File.WriteAllLines(file, lines);
        return Router($"transport_maps = texthash:{file}\n" + extra);
    }

    [Fact]
    public void Mydestination_is_the_local_class_with_local_transport_and_myhostname_as_nexthop()
    {
        // postconf(5): local_transport = local:$myhostname.
        Assert.Equal(new RecipientRoute(AddressClass.Local, "local", "mail.example.test"), Router().Resolve("bob@localhost"));
    }

    [Fact]
    public void An_address_literal_of_inet_interfaces_is_local_and_any_other_literal_goes_to_that_address()
    {
        var r = Router();
        Assert.Equal(AddressClass.Local, r.Resolve("bob@[127.0.0.1]").Class);
        Assert.Equal(new RecipientRoute(AddressClass.Default, "smtp", "[192.0.2.9]"), r.Resolve("bob@[192.0.2.9]"));
    }

    [Fact]
    public void Local_class_is_tried_before_virtual_mailbox_domains()
    {
        // example.test is not in mydestination here, so it is a virtual mailbox domain.
        Assert.Equal(AddressClass.VirtualMailbox, Router().Resolve("bob@example.test").Class);
        Assert.Equal(AddressClass.Local, Router("mydestination = $mydomain\n").Resolve("bob@example.test").Class);
    }

    [Fact]
    public void Virtual_alias_domain_without_an_alias_is_user_unknown()
    {
        Assert.Equal(new RecipientRoute(AddressClass.VirtualAlias, "error", "5.1.1 User unknown in virtual alias table"),
            Router().Resolve("ghost@alias.test"));
    }

    [Fact]
    public void Virtual_mailbox_domain_uses_virtual_transport_with_the_recipient_domain()
    {
        Assert.Equal(new RecipientRoute(AddressClass.VirtualMailbox, "virtual", "hosted.test"), Router().Resolve("ann@Hosted.Test"));
        Assert.Equal(new RecipientRoute(AddressClass.VirtualMailbox, "lmtp", "unix:private/dovecot-lmtp"),
            Router("virtual_transport = lmtp:unix:private/dovecot-lmtp\n").Resolve("ann@hosted.test"));
    }

    [Fact]
    public void Relay_domains_use_relay_transport_and_relayhost_when_set()
    {
        Assert.Equal(new RecipientRoute(AddressClass.Relay, "relay", "relayed.test"), Router().Resolve("x@relayed.test"));
        // relay_domains matches subdomains by default (parent_domain_matches_subdomains).
        Assert.Equal(AddressClass.Relay, Router().Resolve("x@a.relayed.test").Class);
        Assert.Equal(new RecipientRoute(AddressClass.Relay, "relay", "[gw.test]:587"),
            Router("relayhost = [gw.test]:587\n").Resolve("x@relayed.test"));
    }

    [Fact]
    public void Default_class_uses_default_transport_then_relayhost_then_the_domain()
    {
        Assert.Equal(new RecipientRoute(AddressClass.Default, "smtp", "remote.test"), Router().Resolve("x@remote.test"));
        Assert.Equal(new RecipientRoute(AddressClass.Default, "smtp", "[gw.test]"), Router("relayhost = [gw.test]\n").Resolve("x@remote.test"));
        // postconf(5) default_transport: its own nexthop comes before relayhost.
        Assert.Equal(new RecipientRoute(AddressClass.Default, "smtp", "[other.test]:25"),
            Router("relayhost = [gw.test]\ndefault_transport = smtp:[other.test]:25\n").Resolve("x@remote.test"));
        Assert.Equal(new RecipientRoute(AddressClass.Default, "error", "outbound mail disabled"),
            Router("default_transport = error:outbound mail disabled\n").Resolve("x@remote.test"));
    }

    [Fact]
    public void Transport_map_lookup_order_is_address_then_unextended_address_then_domain_then_parents_then_star()
    {
        var r = WithTransportMap("recipient_delimiter = +\n",
            "bob+list@remote.test  discard:list",
            "bob@remote.test       relay:[bob-gw.test]",
            "remote.test           smtp:[domain-gw.test]",
            ".parent.test          smtp:[parent-gw.test]",
            "*                     smtp:[star-gw.test]");

        Assert.Equal(("discard", "list"), Pick(r.Resolve("bob+list@remote.test")));
        Assert.Equal(("relay", "[bob-gw.test]"), Pick(r.Resolve("bob+other@remote.test")));
        Assert.Equal(("smtp", "[domain-gw.test]"), Pick(r.Resolve("carol@remote.test")));
        Assert.Equal(("smtp", "[parent-gw.test]"), Pick(r.Resolve("x@deep.sub.parent.test")));
        // transport(5): ".domain" matches subdomains only; the parent itself needs its own entry.
        Assert.Equal(("smtp", "[star-gw.test]"), Pick(r.Resolve("x@parent.test")));
        Assert.Equal(("smtp", "[star-gw.test]"), Pick(r.Resolve("x@elsewhere.test")));
    }

    [Fact]
    public void With_transport_maps_in_parent_domain_matches_subdomains_a_domain_entry_matches_its_subdomains()
    {
        var r = WithTransportMap("parent_domain_matches_subdomains = transport_maps\n", "parent.test  smtp:[parent-gw.test]");
        Assert.Equal(("smtp", "[parent-gw.test]"), Pick(r.Resolve("x@a.parent.test")));
    }

    [Fact]
    public void Empty_fields_inherit_as_transport5_says()
    {
        var r = WithTransportMap("relayhost = [gw.test]\n",
            "same.test       :",
            "hop.test        :[only-hop.test]",
            "transport.test  relay:",
            "bare.test       lmtp");

        // "A null transport and null nexthop field means do not change."
        Assert.Equal(new RecipientRoute(AddressClass.Default, "smtp", "[gw.test]"), r.Resolve("x@same.test"));
        // "A null transport field with non-null nexthop field does not modify the transport information."
        Assert.Equal(new RecipientRoute(AddressClass.Default, "smtp", "[only-hop.test]"), r.Resolve("x@hop.test"));
        // "A non-null transport field with a null nexthop field resets the nexthop information to the recipient domain."
        Assert.Equal(new RecipientRoute(AddressClass.Default, "relay", "transport.test"), r.Resolve("x@transport.test"));
        Assert.Equal(new RecipientRoute(AddressClass.Default, "lmtp", "bare.test"), r.Resolve("x@bare.test"));
    }

    [Fact]
    public void Transport_maps_override_every_class_and_keep_the_class()
    {
        var r = WithTransportMap("", "localhost  lmtp:[127.0.0.1]:24", "hosted.test  error:5.7.1 closed for good");
        Assert.Equal(new RecipientRoute(AddressClass.Local, "lmtp", "[127.0.0.1]:24"), r.Resolve("bob@localhost"));
        Assert.Equal(new RecipientRoute(AddressClass.VirtualMailbox, "error", "5.7.1 closed for good"), r.Resolve("ann@hosted.test"));
    }

    [Fact]
    public void A_transport_map_that_cannot_answer_defers_through_the_retry_transport()
    {
        var r = Router("transport_maps = fail:broken\n");
        Assert.Equal(("retry", AddressRouter.ResolverFailure), Pick(r.Resolve("x@remote.test")));
    }

    [Theory]
    [InlineData("smtp:[gw.test]:25", "smtp", "[gw.test]:25")]
    [InlineData("lmtp:unix:private/dovecot-lmtp", "lmtp", "unix:private/dovecot-lmtp")]
    [InlineData(":[gw.test]", "", "[gw.test]")]
    [InlineData("relay:", "relay", "")]
    [InlineData("local", "local", "")]
    [InlineData("error:5.1.1 no such user: x", "error", "5.1.1 no such user: x")]
    public void Split_takes_the_transport_up_to_the_first_colon(string value, string transport, string nexthop) =>
        Assert.Equal((transport, nexthop), AddressRouter.Split(value));

    private static (string, string) Pick(RecipientRoute r) => (r.Transport, r.NextHop);

    [Fact]
    public void A_content_filter_overrides_class_and_transport_maps_for_every_recipient()
    {
        var router = WithTransportMap("", "relayed.test  smtp:[10.0.0.1]");
        // Postfix FILTER_README: the filter's transport:nexthop replaces the normal route.
        Assert.Equal(new RecipientRoute(AddressClass.Local, "scan", "[127.0.0.1]:10025"), router.Resolve("bob@localhost", "scan:[127.0.0.1]:10025"));
        Assert.Equal(new RecipientRoute(AddressClass.Relay, "scan", "[127.0.0.1]:10025"), router.Resolve("x@relayed.test", "scan:[127.0.0.1]:10025"));
        // Without a filter the normal route stands.
        Assert.Equal("smtp", router.Resolve("x@relayed.test", null).Transport);
        Assert.Equal("smtp", router.Resolve("x@relayed.test", "").Transport);
    }

    [Fact]
    public void A_content_filter_without_nexthop_uses_default_filter_nexthop_then_the_recipient_domain()
    {
        // postconf(5) default_filter_nexthop: empty means the domain of the recipient address.
        Assert.Equal(new RecipientRoute(AddressClass.Default, "scan", "far.example"), Router().Resolve("x@far.example", "scan:"));
        Assert.Equal(new RecipientRoute(AddressClass.Default, "scan", "mail.example.test"),
            Router("default_filter_nexthop = $myhostname\n").Resolve("x@far.example", "scan"));
    }
}
