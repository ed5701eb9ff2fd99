using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

public class VirtualTransportTests
{
    private const string Message = "Subject: hi\n\nhello\n";

    private static (uint Uid, uint Gid) Ids()
    {
        if (!LibC.IsRoot) return (LibC.geteuid(), LibC.getegid());
        Assert.True(new PasswdUserDatabase().TryGetUser("nobody", out var nobody), "this test needs the account nobody");
        return ((uint)nobody.Uid, (uint)nobody.Gid);
    }

    [Fact]
    public async Task Virtual_users_get_Maildir_or_mbox_with_the_mapped_ids_and_unknown_ones_bounce()
    {
        using var fx = new DeliveryFixture();
        var (uid, gid) = Ids();
        string vbase = Path.Combine(fx.Root, "vmail");
        Directory.CreateDirectory(vbase);
        File.SetUnixFileMode(fx.Root, (UnixFileMode)0x1ED);
        File.SetUnixFileMode(vbase, (UnixFileMode)0x1FF);
        var map = new Dictionary<string, string> { ["ann@example.org"] = "example.org/ann/", ["@example.net"] = "example.net.mbox" };
        var o = new VirtualDeliveryOptions
        {
            MailboxDomains = ["example.org", "example.net"],
            MailboxBase = vbase,
            MailboxMaps = k => map.GetValueOrDefault(k),
            UidMaps = VirtualTransport.Static(uid.ToString()),
            GidMaps = VirtualTransport.Static(gid.ToString()),
            MinimumUid = Math.Min(100, uid),
            RecipientDelimiter = "+",
        };
        var t = new VirtualTransport(o, fx.Clock, fx.Log);
        Assert.True(t.IsVirtualRecipient("Ann+x@Example.org"));
        Assert.False(t.IsVirtualRecipient("bob@example.org"));

        var r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("ann+x@example.org", Message), default)).Results);
        Assert.Equal((DeliveryOutcome.Sent, "delivered to maildir"), (r.Outcome, r.Text));
        string file = Assert.Single(Directory.GetFiles(Path.Combine(vbase, "example.org", "ann", "new")));
        Assert.True(LibC.TryLstat(file, out var st, out _));
        Assert.Equal(uid, st.Uid);

        r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("anyone@example.net", Message), default)).Results);
        Assert.Equal("delivered to mailbox", r.Text);
        Assert.StartsWith("From alice@remote.example  ", File.ReadAllText(Path.Combine(vbase, "example.net.mbox")));

        r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@example.org", Message), default)).Results);
        Assert.Equal((DeliveryOutcome.Bounced, "5.1.1", "unknown user: \"bob@example.org\""), (r.Outcome, r.Dsn.ToString(), r.Text));
        Assert.Contains(fx.LogLines.Lines, l => l.StartsWith("postfix/virtual[4242]: 3F1A2B0C4D: to=<bob@example.org>"));

        t = new VirtualTransport(o with { MinimumUid = (long)uid + 1 }, fx.Clock, fx.Log);
        r = Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("ann@example.org", Message), default)).Results);
        Assert.Equal((DeliveryOutcome.Deferred, "4.3.5"), (r.Outcome, r.Dsn.ToString()));
    }
}
