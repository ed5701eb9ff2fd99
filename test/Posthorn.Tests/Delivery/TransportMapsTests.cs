using Posthorn.Config.Tables;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>local(8) mailbox_transport_maps and fallback_transport_maps: a per-user transport, looked up by user name,
/// before mailbox_transport / fallback_transport ("aliases, .forward files, mailbox_transport_maps, mailbox_transport,
/// mailbox_command_maps, …, fallback_transport_maps, fallback_transport and luser_relay").</summary>
public sealed class TransportMapsTests
{
    private const string Message = "Subject: hi\n\nhello\n";

    private static Func<string, string?> Maps(ILookupTable table) => user => LookupTables.TryLookup([table], user, out var v) ? v : null;

    private static ILookupTable Inline(string text) => LookupTables.Open($"inline:{{ {text} }}", new LookupTableOptions());

    [Fact]
    public async Task Mailbox_transport_maps_picks_the_users_transport_before_mailbox_transport()
    {
        using var fx = new DeliveryFixture("bob", "carol");
        var o = fx.Options() with
        {
            MailboxTransportMaps = Maps(Inline("{bob=lmtp:unix:private/dovecot-lmtp}")),
            MailboxTransport = "lmtp:inet:127.0.0.1:24",
            RecipientDelimiter = "+",
        };
        var t = fx.Transport(o);
        // The key is the user name: bob+tag looks up bob.
        var bob = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob+tag@host.example", Message), default)).Results);
        Assert.Equal("lmtp:unix:private/dovecot-lmtp", bob.PassTo);
        var carol = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("carol@host.example", Message), default)).Results);
        Assert.Equal("lmtp:inet:127.0.0.1:24", carol.PassTo);

        // Without mailbox_transport, a user missing from the map gets the mailbox.
        t = fx.Transport(o with { MailboxTransport = "" });
        carol = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("carol@host.example", Message), default)).Results);
        Assert.Null(carol.PassTo);
        Assert.Equal((DeliveryOutcome.Sent, "delivered to mailbox"), (carol.Outcome, carol.Text));
    }

    [Fact]
    public async Task Fallback_transport_maps_takes_unknown_users_before_fallback_transport_and_luser_relay()
    {
        using var fx = new DeliveryFixture("bob");
        var o = fx.Options() with
        {
            FallbackTransportMaps = Maps(Inline("{ghost=smtp:[legacy.example]}")),
            LuserRelay = "relay@elsewhere.example",
        };
        var t = fx.Transport(o);
        var ghost = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("ghost@host.example", Message), default)).Results);
        Assert.Equal("smtp:[legacy.example]", ghost.PassTo);
        // Another unknown user falls through to luser_relay; a known user is not looked up at all.
        var result = await t.DeliverAsync(DeliveryFixture.Request("nobody2@host.example", Message), default);
        Assert.All(result.Results, r => Assert.Null(r.PassTo));
        Assert.Equal(["relay@elsewhere.example"], result.Forward);
        var bob = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default)).Results);
        Assert.Null(bob.PassTo);

        t = fx.Transport(o with { FallbackTransport = "lmtp:unix:private/other", LuserRelay = "" });
        var other = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("nobody2@host.example", Message), default)).Results);
        Assert.Equal("lmtp:unix:private/other", other.PassTo);
    }

    [Fact]
    public async Task A_transport_map_that_cannot_answer_defers_the_recipient()
    {
        using var fx = new DeliveryFixture("bob");
        var broken = Maps(LookupTables.Open("fail:broken", new LookupTableOptions()));
        var t = fx.Transport(fx.Options() with { MailboxTransportMaps = broken, FallbackTransportMaps = broken });
        foreach (var to in new[] { "bob@host.example", "ghost@host.example" })
        {
            var r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request(to, Message), default)).Results);
            Assert.Equal((DeliveryOutcome.Deferred, "4.3.0", "table lookup failure", (string?)null), (r.Outcome, r.Dsn.ToString(), r.Text, r.PassTo));
        }
        Assert.False(File.Exists(Path.Combine(fx.Spool, "bob")));
    }

    [Fact]
    public async Task Soft_bounce_logs_a_local_bounce_as_softbounce_with_a_4xx_code()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport(fx.Options() with { SoftBounce = true });
        var r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("ghost@host.example", Message), default)).Results);
        // The result stays a bounce (the queue manager keeps it queued); only the line changes, as in Postfix.
        Assert.Equal(DeliveryOutcome.Bounced, r.Outcome);
        string line = Assert.Single(fx.LogLines.Lines, l => l.Contains("to=<ghost@host.example>", StringComparison.Ordinal));
        Assert.Contains("dsn=4.1.1, status=SOFTBOUNCE (unknown user: \"ghost\")", line);

        var plain = fx.Transport(fx.Options());
        await plain.DeliverAsync(DeliveryFixture.Request("ghost2@host.example", Message), default);
        Assert.Contains("dsn=5.1.1, status=bounced", Assert.Single(fx.LogLines.Lines, l => l.Contains("ghost2", StringComparison.Ordinal)));
    }
}
