using System.Globalization;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;
using Xunit.Abstractions;

namespace Posthorn.Tests.Delivery;

/// <summary>Postfix local(8) DELIVERY RIGHTS for <c>:include:</c> files, and the Delivered-To: loop check
/// on an address met again after a forwarded copy came back.</summary>
public class IncludeRightsTests(ITestOutputHelper output)
{
    private const string Message = "Subject: hi\n\nhello\n";

    [Fact]
    public async Task Include_file_commands_and_files_run_as_the_include_files_owner()
    {
        using var fx = new DeliveryFixture();
        File.SetUnixFileMode(fx.Root, (UnixFileMode)0x1ED);
        string outDir = Path.Combine(fx.Root, "out");
        Directory.CreateDirectory(outDir);
        File.SetUnixFileMode(outDir, (UnixFileMode)0x1FF); // 0777: whoever the targets run as may write here
        string inc = Path.Combine(fx.Root, "list.inc");
        File.WriteAllText(inc, $"\"|id -u > {outDir}/uid\"\n{outDir}/archive\n");
        var o = fx.Options($"x: :include:{inc}\n") with { MailToCommands = LocalSources.Include, MailToFiles = LocalSources.Include };
        string expected = LibC.geteuid().ToString(CultureInfo.InvariantCulture);
        if (LibC.IsRoot)
        {
            Assert.True(new PasswdUserDatabase().TryGetUser("nobody", out var nobody), "this test needs the account nobody");
            // The alias map belongs to someone else again, so that the alias map's rights (uid 4321)
            // and default_privs (nobody for a root map) cannot be mistaken for the include file's.
            Assert.Equal(0, Chown(Path.Combine(fx.Root, "aliases.db"), 4321, 4322));
            Assert.Equal(0, Chown(inc, nobody.Uid, nobody.Gid));
            o = o with { Aliases = [AliasDatabase.Open(Path.Combine(fx.Root, "aliases"), fx.Log, fx.Clock)!] };
            expected = nobody.Uid.ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            output.WriteLine("not root: the include file cannot be given to nobody; checking only that its targets run with our own uid");
        }
        var r = await fx.Transport(o, new UsersWithSystem(fx.Users)).DeliverAsync(DeliveryFixture.Request("x@host.example", Message), default);
        Assert.All(r.Results, x => Assert.Equal(DeliveryOutcome.Sent, x.Outcome));
        Assert.Equal(2, r.Results.Count);
        Assert.Equal(expected, File.ReadAllText(Path.Combine(outDir, "uid")).Trim());
        Assert.True(LibC.TryLstat(Path.Combine(outDir, "archive"), out var st, out _));
        Assert.Equal(expected, st.Uid.ToString(CultureInfo.InvariantCulture));
        Assert.Contains("hello", File.ReadAllText(Path.Combine(outDir, "archive")));
    }

    [Fact]
    public async Task An_alias_result_named_in_Delivered_To_bounces_before_it_is_forwarded_again()
    {
        using var fx = new DeliveryFixture();
        var o = fx.Options("b: a@host.example\na: far@remote.example\n");
        var r = await fx.Transport(o).DeliverAsync(
            DeliveryFixture.Request("b@host.example", "Delivered-To: a@host.example\n" + Message), default);
        var result = Assert.Single(r.Results);
        Assert.Equal((DeliveryOutcome.Bounced, "5.4.6", "mail forwarding loop for a@host.example"),
            (result.Outcome, result.Dsn.ToString(), result.Text));
        Assert.Empty(r.Forwards);

        // Without that header the same alias chain forwards, carrying Delivered-To for the next round.
        r = await fx.Transport(o).DeliverAsync(DeliveryFixture.Request("b@host.example", Message), default);
        Assert.Equal(("far@remote.example", "a@host.example"), (Assert.Single(r.Forwards).Address, r.Forwards[0].DeliveredTo));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(string path, int uid, int gid);
}
