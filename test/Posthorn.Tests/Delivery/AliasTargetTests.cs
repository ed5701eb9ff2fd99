using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>aliases(5) targets and the local(8) rules around them: error:, :include: loops, duplicate
/// elimination, owner-/-request, prepend_delivered_header.</summary>
public class AliasTargetTests
{
    private const string Message = "Subject: hi\n\nhello\n";

    private static string[] Summary(LocalDeliveryResult r) =>
        r.Results.Select(x => $"{x.Recipient} {x.Outcome} {x.Dsn} {x.Text}").ToArray();

    private static int Copies(DeliveryFixture fx, string user) =>
        File.ReadAllLines(Path.Combine(fx.Spool, user)).Count(l => l.StartsWith("From ", StringComparison.Ordinal));

    [Fact]
    public async Task Error_targets_bounce_or_defer_with_their_text()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport(fx.Options("gone: \"error:5.1.1 this address is gone\"\nlater: \"error:4.2.1 mailbox moving\"\n" +
            "old: \"error:550 no such list\"\nbare: error:nope\nmixed: bob, \"error:5.2.1 disabled\"\n"));
        async Task<string[]> To(string who) => Summary(await t.DeliverAsync(DeliveryFixture.Request($"{who}@host.example", Message), default));
        Assert.Equal(["gone@host.example Bounced 5.1.1 this address is gone"], await To("gone"));
        Assert.Equal(["later@host.example Deferred 4.2.1 mailbox moving"], await To("later"));
        Assert.Equal(["old@host.example Bounced 5.0.0 no such list"], await To("old"));
        Assert.Equal(["bare@host.example Bounced 5.0.0 nope"], await To("bare"));
        Assert.Equal(["bob@host.example Sent 2.0.0 delivered to mailbox", "mixed@host.example Bounced 5.2.1 disabled"], (await To("mixed")).Order(StringComparer.Ordinal).ToArray());
        Assert.Contains(fx.LogLines.Lines, l => l.EndsWith("to=<gone@host.example>, relay=local, delay=2, delays=2/0/0/0, dsn=5.1.1, status=bounced (this address is gone)"));
    }

    [Fact]
    public async Task An_include_file_that_includes_itself_is_read_once_and_its_targets_get_one_copy()
    {
        using var fx = new DeliveryFixture("bob", "carol");
        string inc = Path.Combine(fx.Root, "self.list");
        File.WriteAllText(inc, $"bob\n:include:{inc}\ncarol, :include:{inc}\n");
        var r = await fx.Transport(fx.Options($"list: :include:{inc}\n")).DeliverAsync(DeliveryFixture.Request("list@host.example", Message), default);
        // Postfix include.c: an include file already expanded (for this user) is skipped, not an error.
        Assert.Equal(["bob@host.example Sent 2.0.0 delivered to mailbox", "carol@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
        Assert.Equal(1, Copies(fx, "bob"));
        Assert.Equal(1, Copies(fx, "carol"));
    }

    [Fact]
    public async Task A_recipient_reached_through_several_aliases_an_include_and_a_forward_gets_one_copy()
    {
        using var fx = new DeliveryFixture("bob", "carol");
        string inc = Path.Combine(fx.Root, "staff.list");
        File.WriteAllText(inc, "bob, Bob@host.example\n");
        var o = fx.Options($"all: team, staff, bob, \\bob\nteam: bob, carol\nstaff: :include:{inc}\n") with
        {
            ForwardPath = ["$home/.forward"],
        };
        File.WriteAllText(Path.Combine(fx.Root, "home", "carol", ".forward"), "bob, carol\n");
        var r = await fx.Transport(o).DeliverAsync(DeliveryFixture.Request("all@host.example", Message), default);
        Assert.Equal(["bob@host.example Sent 2.0.0 delivered to mailbox", "carol@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
        Assert.Equal(1, Copies(fx, "bob"));
        Assert.Equal(1, Copies(fx, "carol"));
    }

    [Theory]
    [InlineData(true, "list-request@host.example Bounced 5.1.1 unknown user: \"list-request\"")]
    [InlineData(false, "bob@host.example Sent 2.0.0 delivered to mailbox")]
    public async Task Owner_request_special_keeps_list_request_whole(bool special, string expected)
    {
        using var fx = new DeliveryFixture("bob", "carol");
        var o = fx.Options("list: bob\nowner-list: carol\n") with { RecipientDelimiter = "-", OwnerRequestSpecial = special };
        var r = await fx.Transport(o).DeliverAsync(DeliveryFixture.Request("list-request@host.example", Message), default);
        // Postfix owner_request_special: list-request is not list with the extension "request".
        Assert.Equal([expected], Summary(r));
        // owner-list itself is an ordinary alias: mail to it reaches carol.
        r = await fx.Transport(o).DeliverAsync(DeliveryFixture.Request("owner-list@host.example", Message), default);
        Assert.Equal(["carol@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
    }

    [Fact]
    public async Task Problems_with_an_owned_list_go_to_owner_name()
    {
        using var fx = new DeliveryFixture("bob", "carol");
        var r = await fx.Transport(fx.Options("list: bob, ghost, \"error:4.2.2 full\"\nowner-list: carol\n"))
            .DeliverAsync(DeliveryFixture.Request("list@host.example", Message), default);
        // Postfix aliases(5): "delivery diagnostics are directed to" owner-NAME, not the originator.
        Assert.All(r.Results.Where(x => x.Outcome != DeliveryOutcome.Sent), x => Assert.Equal("owner-list@host.example", x.ErrorsTo));
        Assert.Equal(2, r.Results.Count(x => x.Outcome != DeliveryOutcome.Sent));
        Assert.Contains("Return-Path: <owner-list@host.example>\n", File.ReadAllText(Path.Combine(fx.Spool, "bob")));
    }

    [Theory]
    [InlineData(DeliveredHeader.Command | DeliveredHeader.File | DeliveredHeader.Forward)]
    [InlineData(DeliveredHeader.None)]
    public async Task Prepend_delivered_header_decides_for_files_commands_and_forwards_and_mailboxes_always_get_one(DeliveredHeader which)
    {
        using var fx = new DeliveryFixture("bob");
        File.SetUnixFileMode(fx.Root, (UnixFileMode)0x1FF); // default_privs writes here when the tests run as root
        string file = Path.Combine(fx.Root, "archive"), piped = Path.Combine(fx.Root, "piped");
        var o = fx.Options($"x: bob, {file}, \"|cat > {piped}\", far@remote.example\n") with
        {
            PrependDeliveredHeader = which,
            MailToFiles = LocalSources.Alias,
            MailToCommands = LocalSources.Alias,
        };
        var r = await fx.Transport(o, new UsersWithSystem(fx.Users)).DeliverAsync(DeliveryFixture.Request("x@host.example", Message), default);
        Assert.All(r.Results, x => Assert.Equal(DeliveryOutcome.Sent, x.Outcome));
        bool on = which != DeliveredHeader.None;
        Assert.Contains("Delivered-To: bob@host.example\n", File.ReadAllText(Path.Combine(fx.Spool, "bob")));
        Assert.Equal(on, File.ReadAllText(file).Contains("Delivered-To: x@host.example\n"));
        Assert.Equal(on, File.ReadAllText(piped).Contains("Delivered-To: x@host.example\n"));
        Assert.Equal(on ? "x@host.example" : null, Assert.Single(r.Forwards).DeliveredTo);
    }
}
