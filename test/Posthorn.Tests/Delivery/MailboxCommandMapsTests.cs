using Posthorn.Config.Tables;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>postconf(5) mailbox_command_maps: a per-user mailbox_command, looked up by user name, that
/// takes precedence over mailbox_command.</summary>
public class MailboxCommandMapsTests
{
    private const string Message = "Subject: hi\n\nhello\n";

    private static (DeliveryFixture Fx, string Out) Setup()
    {
        var fx = new DeliveryFixture("bob", "carol");
        File.SetUnixFileMode(fx.Root, (UnixFileMode)0x1ED);
        string output = Path.Combine(fx.Root, "out");
        Directory.CreateDirectory(output);
        File.SetUnixFileMode(output, (UnixFileMode)0x1FF); // the fixture's users are root when the tests are: default_privs writes
        return (fx, output);
    }

    private static Func<string, string?> Maps(params ILookupTable[] tables) =>
        user => LookupTables.TryLookup(tables, user, out var v) ? v : null;

    [Fact]
    public async Task A_user_in_the_map_gets_its_command_others_get_mailbox_command_or_the_mailbox()
    {
        var (fx, output) = Setup();
        using var cleanup = fx;
        string map = Path.Combine(fx.Root, "commands");
        File.WriteAllText(map, $"bob    cat > {output}/bob.map; exit 0\n");
        var table = LookupTables.Open("texthash:" + map, new LookupTableOptions());
        var o = fx.Options() with
        {
            MailboxCommandMaps = Maps(table),
            MailboxCommand = $"cat > {output}/$USER.default; exit 0",
            RecipientDelimiter = "+",
        };
        var t = fx.Transport(o, new UsersWithSystem(fx.Users));
        // The key is the user name: bob+tag is bob.
        var bob = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob+tag@host.example", Message), default)).Results);
        Assert.Equal((DeliveryOutcome.Sent, $"delivered to command: cat > {output}/bob.map; exit 0"), (bob.Outcome, bob.Text));
        Assert.Contains("hello", File.ReadAllText(Path.Combine(output, "bob.map")));
        Assert.False(File.Exists(Path.Combine(output, "bob.default")));

        var carol = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("carol@host.example", Message), default)).Results);
        Assert.Equal(DeliveryOutcome.Sent, carol.Outcome);
        Assert.Contains("hello", File.ReadAllText(Path.Combine(output, "carol.default")));

        // Without mailbox_command, a user missing from the map gets the ordinary mailbox.
        t = fx.Transport(o with { MailboxCommand = "" }, new UsersWithSystem(fx.Users));
        carol = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("carol@host.example", Message), default)).Results);
        Assert.Equal("delivered to mailbox", carol.Text);
        Assert.Contains("hello", File.ReadAllText(Path.Combine(fx.Spool, "carol")));
    }

    [Fact]
    public async Task A_map_that_cannot_answer_defers()
    {
        var (fx, output) = Setup();
        using var cleanup = fx;
        var o = fx.Options() with
        {
            MailboxCommandMaps = Maps(LookupTables.Open("fail:broken", new LookupTableOptions())),
            MailboxCommand = $"cat > {output}/$USER.default; exit 0",
        };
        var bob = Assert.Single((await fx.Transport(o, new UsersWithSystem(fx.Users))
            .DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default)).Results);
        Assert.Equal((DeliveryOutcome.Deferred, "4.3.0", "table lookup failure"), (bob.Outcome, bob.Dsn.ToString(), bob.Text));
        Assert.Empty(Directory.GetFiles(output));
        Assert.False(File.Exists(Path.Combine(fx.Spool, "bob")));
    }
}
