using System.Net;
using System.Net.Sockets;
using System.Text;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>Maildir++ folders by extension (posthorn_maildir_extension_folders) and biff.</summary>
public class MailboxExtrasTests
{
    private const string Message = "Subject: hi\n\nhello\n";

    private static string Maildir(DeliveryFixture fx, string user) => Path.Combine(fx.Root, "home", user, "Maildir");

    private static LocalTransport FolderTransport(DeliveryFixture fx, bool folders) =>
        fx.Transport(fx.Options() with { HomeMailbox = "Maildir/", RecipientDelimiter = "+", MaildirExtensionFolders = folders });

    private static void MakeFolder(string maildir, string name)
    {
        foreach (var sub in new[] { "cur", "new", "tmp" }) Directory.CreateDirectory(Path.Combine(maildir, name, sub));
    }

    [Fact]
    public async Task User_plus_folder_goes_to_the_existing_Maildir_plus_plus_folder_of_any_case()
    {
        using var fx = new DeliveryFixture("bob");
        string md = Maildir(fx, "bob");
        MakeFolder(md, ".Sent");
        MakeFolder(md, ".lists.posthorn");
        var t = FolderTransport(fx, folders: true);
        foreach (var to in new[] { "bob+sent", "bob+Lists.Posthorn", "bob" })
            Assert.Equal("delivered to maildir", Assert.Single((await t.DeliverAsync(DeliveryFixture.Request($"{to}@host.example", Message), default)).Results).Text);

        string sent = Assert.Single(Directory.GetFiles(Path.Combine(md, ".Sent", "new")));
        Assert.Contains("Delivered-To: bob+sent@host.example\n", File.ReadAllText(sent));
        Assert.Single(Directory.GetFiles(Path.Combine(md, ".lists.posthorn", "new")));
        Assert.Contains("Delivered-To: bob@host.example\n", File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(md, "new")))));
    }

    [Theory]
    [InlineData("bob+drafts")]       // no such folder: never created by a sender's choice
    [InlineData("bob+..")]           // not a folder name
    [InlineData("bob+.sent")]
    [InlineData("bob+sent.")]
    public async Task Unknown_or_unsafe_folder_names_go_to_the_inbox(string to)
    {
        using var fx = new DeliveryFixture("bob");
        string md = Maildir(fx, "bob");
        MakeFolder(md, ".Sent");
        var r = await FolderTransport(fx, folders: true).DeliverAsync(DeliveryFixture.Request($"{to}@host.example", Message), default);
        Assert.Equal(DeliveryOutcome.Sent, Assert.Single(r.Results).Outcome);
        Assert.Single(Directory.GetFiles(Path.Combine(md, "new")));
        Assert.Empty(Directory.GetFiles(Path.Combine(md, ".Sent", "new")));
        Assert.Equal([".Sent", "cur", "new", "tmp"], Directory.GetDirectories(md).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Without_the_parameter_and_for_a_symlinked_folder_mail_stays_in_the_inbox()
    {
        using var fx = new DeliveryFixture("bob");
        string md = Maildir(fx, "bob");
        MakeFolder(md, ".Sent");
        string elsewhere = Path.Combine(fx.Root, "elsewhere");
        MakeFolder(fx.Root, "elsewhere");
        File.CreateSymbolicLink(Path.Combine(md, ".Trash"), elsewhere);
        await FolderTransport(fx, folders: false).DeliverAsync(DeliveryFixture.Request("bob+sent@host.example", Message), default);
        fx.Clock.Now = fx.Clock.Now.AddSeconds(1); // another transport: its own Maildir name counter
        await FolderTransport(fx, folders: true).DeliverAsync(DeliveryFixture.Request("bob+trash@host.example", Message), default);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(md, "new")).Length);
        Assert.Empty(Directory.GetFiles(Path.Combine(md, ".Sent", "new")));
        Assert.Empty(Directory.GetFiles(Path.Combine(elsewhere, "new")));
    }

    [Fact]
    public async Task Biff_yes_sends_user_at_offset_to_comsat_and_biff_no_sends_nothing()
    {
        using var fx = new DeliveryFixture("bob");
        using var comsat = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        comsat.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)comsat.LocalEndPoint!).Port;
        var o = fx.Options() with { BiffPort = port };

        // biff = no first: had it sent anything, that datagram (offset 0) would be the first one read below.
        await fx.Transport(o with { Biff = false }).DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        long size = new FileInfo(Path.Combine(fx.Spool, "bob")).Length;
        var r = await fx.Transport(o with { Biff = true }).DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default);
        Assert.Equal("delivered to mailbox", Assert.Single(r.Results).Text);

        var buffer = new byte[512];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int n = await comsat.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        // comsat(8): "user@mailbox-offset"; Postfix sends the terminating NUL too.
        Assert.Equal($"bob@{size}\0", Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public async Task Biff_with_nobody_listening_does_not_disturb_the_delivery()
    {
        using var fx = new DeliveryFixture("bob");
        // A port that was free a moment ago: the datagram is refused (ICMP) or lost; either way delivery succeeds.
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        var t = fx.Transport(fx.Options() with { Biff = true, BiffPort = port });
        for (int i = 0; i < 2; i++)
            Assert.Equal(DeliveryOutcome.Sent, Assert.Single((await t.DeliverAsync(DeliveryFixture.Request("bob@host.example", Message), default)).Results).Outcome);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(fx.Spool, "bob")).Count(l => l.StartsWith("From ", StringComparison.Ordinal)));
    }
}
