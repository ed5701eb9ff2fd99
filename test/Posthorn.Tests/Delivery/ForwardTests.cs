using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

public class ForwardTests
{
    private const string Message = "Subject: hi\n\nhello\n";
    private static readonly string[] PostfixForwardPath = ["$home/.forward${recipient_delimiter}${extension}", "$home/.forward"];

    private static string[] Summary(LocalDeliveryResult r) =>
        r.Results.Select(x => $"{x.Recipient} {x.Outcome} {x.Dsn} {x.Text}").ToArray();

    private static (DeliveryFixture Fx, LocalTransport T) Setup(string aliases = "", Func<LocalDeliveryOptions, LocalDeliveryOptions>? change = null)
    {
        var fx = new DeliveryFixture("bob", "carol");
        File.SetUnixFileMode(fx.Root, (UnixFileMode)0x1ED);
        var o = fx.Options(aliases) with
        {
            ForwardPath = PostfixForwardPath,
            RecipientDelimiter = "+",
            MailToCommands = LocalSources.Alias | LocalSources.Forward,
            MailToFiles = LocalSources.Alias | LocalSources.Forward,
        };
        return (fx, fx.Transport(change is null ? o : change(o), new UsersWithSystem(fx.Users)));
    }

    private static void Forward(DeliveryFixture fx, string user, string text, string name = ".forward")
    {
        string path = Path.Combine(fx.Root, "home", user, name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, (UnixFileMode)0x1A4); // 0644
    }

    [Fact]
    public async Task Forward_lists_the_user_itself_a_command_and_a_remote_address()
    {
        var (fx, t) = Setup();
        using var cleanup = fx;
        Forward(fx, "bob", "# keep a copy\n\\bob, far@remote.example\n\"|exit 0\"\n");
        var r = await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.Equal(["bob@host.example Sent 2.0.0 delivered to mailbox", "bob@host.example Sent 2.0.0 delivered to command: exit 0"], Summary(r));
        Assert.Equal(["far@remote.example"], r.Forward);
        Assert.Contains("Delivered-To: bob@host.example\n", File.ReadAllText(Path.Combine(fx.Spool, "bob")));
    }

    [Fact]
    public async Task A_user_named_in_its_own_forward_gets_the_mailbox_and_an_empty_forward_changes_nothing()
    {
        var (fx, t) = Setup();
        using var cleanup = fx;
        Forward(fx, "bob", "bob, carol\n");
        Forward(fx, "carol", "\n");
        var r = await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.Equal(["bob@host.example Sent 2.0.0 delivered to mailbox", "carol@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
    }

    [Fact]
    public async Task An_extension_picks_forward_plus_extension_first()
    {
        var (fx, t) = Setup();
        using var cleanup = fx;
        Forward(fx, "bob", "far@remote.example\n");
        Forward(fx, "bob", "carol\n", ".forward+news");
        var r = await t.DeliverAsync(DeliveryFixture.Request("bob+news@host.example", Message), default);
        Assert.Equal(["carol@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
        Assert.Empty(r.Forward);
        r = await t.DeliverAsync(DeliveryFixture.Request("bob+other@host.example", Message), default);
        Assert.Equal(["far@remote.example"], r.Forward);
    }

    [Fact]
    public async Task A_world_writable_forward_is_ignored_with_a_warning()
    {
        var (fx, t) = Setup();
        using var cleanup = fx;
        Forward(fx, "bob", "far@remote.example\n");
        string path = Path.Combine(fx.Root, "home", "bob", ".forward");
        File.SetUnixFileMode(path, (UnixFileMode)0x1B6); // 0666
        var r = await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.Equal(["bob@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));
        Assert.Empty(r.Forward);
        // Once: the default forward_path names ~/.forward twice when the address has no extension.
        Assert.Single(fx.LogLines.Lines, l => l == $"postfix/local[4242]: warning: file {path} is world writable");
    }

    [Fact]
    public async Task Forward_file_targets_are_appended_and_restricted_like_commands()
    {
        var (fx, t) = Setup();
        using var cleanup = fx;
        string dir = Path.Combine(fx.Root, "out");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0x1FF);
        string archive = Path.Combine(dir, "archive");
        Forward(fx, "bob", $"{archive}\n");
        var r = await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.Equal([$"bob@host.example Sent 2.0.0 delivered to file: {archive}"], Summary(r));
        Assert.StartsWith("From alice@remote.example  Thu Nov  5 13:17:08 2026\nReturn-Path: <alice@remote.example>\n", File.ReadAllText(archive));

        var (fx2, t2) = Setup(change: o => o with { MailToFiles = LocalSources.Alias, MailToCommands = LocalSources.Alias });
        using var cleanup2 = fx2;
        Forward(fx2, "bob", $"{archive}, \"|exit 0\"\n");
        r = await t2.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.Equal(["bob@host.example Bounced 5.7.1 mail to file is restricted", "bob@host.example Bounced 5.7.1 mail to command is restricted"], Summary(r));
    }

    [Fact]
    public async Task Luser_relay_takes_mail_for_unknown_users()
    {
        var (fx, t) = Setup(change: o => o with { LuserRelay = "carol" });
        using var cleanup = fx;
        var r = await t.DeliverAsync(DeliveryFixture.Request("zed@host.example", Message), default);
        Assert.Equal(["carol@host.example Sent 2.0.0 delivered to mailbox"], Summary(r));

        var (fx2, t2) = Setup(change: o => o with { LuserRelay = "@remote.example" });
        using var cleanup2 = fx2;
        r = await t2.DeliverAsync(DeliveryFixture.Request("zed+x@host.example", Message), default);
        Assert.Equal(["zed+x@remote.example"], r.Forward);
        Assert.Empty(r.Results);
    }

    [Theory]
    [InlineData(false, "owner-list@host.example")]
    [InlineData(true, "carol@host.example")]
    public async Task An_owner_alias_becomes_the_sender_of_the_expansion(bool expandOwner, string sender)
    {
        var (fx, t) = Setup("list: bob, far@remote.example, nobody-here\nowner-list: carol\n", o => o with { ExpandOwnerAlias = expandOwner });
        using var cleanup = fx;
        var r = await t.DeliverAsync(DeliveryFixture.Request("list@host.example", Message), default);
        Assert.Equal([new LocalForward("far@remote.example", sender) { DeliveredTo = "list@host.example" }], r.Forwards);
        Assert.Contains($"Return-Path: <{sender}>\n", File.ReadAllText(Path.Combine(fx.Spool, "bob")));
        var unknown = Assert.Single(r.Results, x => x.Outcome == DeliveryOutcome.Bounced);
        Assert.Equal(sender, unknown.ErrorsTo);
    }

    [Fact]
    public async Task An_unavailable_alias_map_defers_every_recipient()
    {
        var (fx, t) = Setup(change: o => o with { UnavailableAliasMaps = ["hash:/nonexistent/aliases"] });
        using var cleanup = fx;
        var r = await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.Equal(["bob@host.example Deferred 4.3.0 alias database unavailable"], Summary(r));
        Assert.False(File.Exists(Path.Combine(fx.Spool, "bob")));
    }

    [Fact]
    public void Dollar_names_expand_conditionally_and_values_are_filtered()
    {
        var attrs = new Dictionary<string, string?> { ["home"] = "/home/b;b", ["extension"] = null, ["user"] = "bob" };
        Assert.True(LocalExpand.TryExpand("$home/.forward${extension?+}${extension}:${extension:none}$$", attrs, LocalDeliveryOptions.DefaultExpansionFilter, out var s));
        Assert.Equal("/home/b_b/.forward:none$", s);
        Assert.False(LocalExpand.TryExpand("${user", attrs, null, out _));
    }
}
