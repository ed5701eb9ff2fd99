using Posthorn.Logging;
using Xunit;

namespace Posthorn.Tests.Delivery;

public class LocalTransportAliasTests
{
    private const string Message = "Subject: hi\n\nhello\n";

    private static string[] Summary(Posthorn.Mail.Delivery.LocalDeliveryResult r) =>
        r.Results.Select(x => $"{x.Recipient} {x.Outcome} {x.Dsn} {x.Text}").ToArray();

    [Fact]
    public async Task Aliases_expand_recursively_and_each_mailbox_gets_one_copy()
    {
        using var fx = new DeliveryFixture("bob", "carol");
        var t = fx.Transport(fx.Options("root: staff, bob\nstaff: bob, carol, Carol\npostmaster: root\n"));
        var r = await t.DeliverAsync(DeliveryFixture.Request("postmaster@host.example", Message), default);
        Assert.Equal(["bob@host.example Sent 2.0.0 delivered to mailbox", "carol@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
        Assert.All(r.Results, x => Assert.Equal("postmaster@host.example", x.OriginalRecipient));
        Assert.Single(File.ReadAllLines(Path.Combine(fx.Spool, "bob")), l => l.StartsWith("From "));
        Assert.Empty(r.Forward);
    }

    [Fact]
    public async Task An_alias_loop_bounces_with_Postfix_wording()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport(fx.Options("a: b\nb: a, bob\n"));
        var r = await t.DeliverAsync(DeliveryFixture.Request("a@host.example", Message), default);
        Assert.Equal(["a@host.example Bounced 5.4.6 alias database loop for a", "bob@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
        Assert.Contains("postfix/local[4242]: warning: alias database loop for a", fx.LogLines.Lines);
    }

    [Fact]
    public async Task An_alias_that_names_itself_delivers_to_the_account()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport(fx.Options("bob: bob, far@remote.example\n"));
        var r = await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.Equal(["bob@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
        Assert.Equal(["far@remote.example"], r.Forward);
    }

    [Fact]
    public async Task Remote_targets_are_forwarded_once_and_local_domains_are_not()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport(fx.Options("list: x@remote.example, X@Remote.Example, bob@localhost, y@other.example\n"));
        var r = await t.DeliverAsync(DeliveryFixture.Request("list@host.example", Message), default);
        Assert.Equal(["x@remote.example", "y@other.example"], r.Forward);
        Assert.Equal(["bob@localhost Sent 2.0.0 delivered to mailbox"], Summary(r));
    }

    [Fact]
    public async Task Unknown_user_bounces_5_1_1_and_is_logged()
    {
        using var fx = new DeliveryFixture();
        var r = await fx.Transport().DeliverAsync(DeliveryFixture.Request("Nobody-Here@host.example", Message), default);
        Assert.Equal(["Nobody-Here@host.example Bounced 5.1.1 unknown user: \"nobody-here\""], Summary(r));
        Assert.Equal(
            ["postfix/local[4242]: 3F1A2B0C4D: to=<Nobody-Here@host.example>, relay=local, delay=2, delays=2/0/0/0, dsn=5.1.1, status=bounced (unknown user: \"nobody-here\")"],
            fx.LogLines.Lines);
    }

    [Fact]
    public async Task Commands_and_files_are_refused_unless_allowed()
    {
        using var fx = new DeliveryFixture();
        var t = fx.Transport(fx.Options("x: |/bin/cat, /tmp/archive\n"));
        var r = await t.DeliverAsync(DeliveryFixture.Request("x@host.example", Message), default);
        Assert.Equal(["x@host.example Bounced 5.7.1 mail to command is restricted", "x@host.example Bounced 5.7.1 mail to file is restricted"], Summary(r));
    }

    [Fact]
    public async Task Allowed_file_targets_are_appended_in_mbox_format()
    {
        using var fx = new DeliveryFixture();
        string archive = Path.Combine(fx.Root, "archive");
        File.WriteAllText(archive, "");
        if (Posthorn.Mail.Delivery.LibC.IsRoot) File.SetUnixFileMode(fx.Root, (UnixFileMode)0x1FF); // default_privs must reach it
        if (Posthorn.Mail.Delivery.LibC.IsRoot) File.SetUnixFileMode(archive, (UnixFileMode)0x1B6);
        var o = fx.Options($"x: {archive}\n") with { AllowMailToFiles = true };
        var r = await fx.Transport(o, new FakeUsersWithNobody(fx)).DeliverAsync(DeliveryFixture.Request("x@host.example", Message), default);
        Assert.Equal([$"x@host.example Sent 2.0.0 delivered to file: {archive}"], Summary(r));
        Assert.StartsWith("From alice@remote.example  Thu Nov  5 13:17:08 2026\n", File.ReadAllText(archive));
    }

    [Fact]
    public async Task Include_files_add_targets()
    {
        using var fx = new DeliveryFixture("bob", "carol");
        string inc = Path.Combine(fx.Root, "staff.list");
        File.WriteAllText(inc, "# the staff\nbob\ncarol, bob\n");
        var r = await fx.Transport(fx.Options($"staff: :include:{inc}\n")).DeliverAsync(DeliveryFixture.Request("staff@host.example", Message), default);
        Assert.Equal(["bob@host.example Sent 2.0.0 delivered to mailbox", "carol@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
    }

    [Fact]
    public async Task Recipient_delimiter_extensions_reach_the_account()
    {
        using var fx = new DeliveryFixture("bob");
        var o = fx.Options() with { RecipientDelimiter = "+-" };
        var r = await fx.Transport(o).DeliverAsync(DeliveryFixture.Request("bob-lists@host.example", Message), default);
        Assert.Equal(["bob-lists@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
        Assert.Contains("Delivered-To: bob-lists@host.example\n", File.ReadAllText(Path.Combine(fx.Spool, "bob")));
    }

    [Fact]
    public async Task A_message_that_was_already_delivered_here_bounces_as_a_loop()
    {
        using var fx = new DeliveryFixture("bob");
        var r = await fx.Transport().DeliverAsync(DeliveryFixture.Request("bob@host.example", "Delivered-To: BOB@host.example\nSubject: x\n\nbody\n"), default);
        Assert.Equal(["bob@host.example Bounced 5.4.6 mail forwarding loop for bob@host.example"], Summary(r));
        Assert.False(File.Exists(Path.Combine(fx.Spool, "bob")));
    }

    [Fact]
    public void IsLocalRecipient_knows_accounts_and_aliases_after_folding_and_stripping()
    {
        using var fx = new DeliveryFixture("bob");
        var t = fx.Transport(fx.Options("postmaster: bob\n") with { RecipientDelimiter = "+" });
        Assert.True(t.IsLocalRecipient("bob"));
        Assert.True(t.IsLocalRecipient("BOB+news"));
        Assert.True(t.IsLocalRecipient("PostMaster"));
        Assert.True(t.IsLocalRecipient("postmaster+x"));
        Assert.False(t.IsLocalRecipient("carol"));
        Assert.False(t.IsLocalRecipient("bob-news"));
    }

    private sealed class FakeUsersWithNobody(DeliveryFixture fx) : Posthorn.Mail.Delivery.IUserDatabase
    {
        public bool TryGetUser(string name, out Posthorn.Mail.Delivery.SystemUser user)
        {
            if (name == "nobody" && new Posthorn.Mail.Delivery.PasswdUserDatabase().TryGetUser("nobody", out user)) return true;
            return fx.Users.TryGetUser(name, out user);
        }
    }
}
