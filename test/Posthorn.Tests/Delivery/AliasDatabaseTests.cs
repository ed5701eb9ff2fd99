using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

public class AliasDatabaseTests
{
    [Fact]
    public void Compile_then_open_finds_names_in_any_case()
    {
        using var fx = new DeliveryFixture();
        var db = fx.Aliases("Root: Bob, carol\n");
        Assert.True(db.TryLookup("ROOT", out var t));
        Assert.Equal(["Bob", "carol"], t);
        Assert.False(db.TryLookup("bob", out _));
        Assert.Empty(fx.LogLines.Lines);
    }

    [Fact]
    public void A_duplicate_is_warned_about_and_the_first_entry_stays()
    {
        using var fx = new DeliveryFixture();
        string src = Path.Combine(fx.Root, "aliases");
        File.WriteAllText(src, "root: bob\nROOT: carol\n");
        var warnings = AliasDatabase.Compile(src, src + ".db");
        Assert.Equal([$"{src}.db: duplicate entry: \"root\""], warnings);
        AliasDatabase.Open(src, fx.Log)!.TryLookup("root", out var t);
        Assert.Equal(["bob"], t);

        Assert.Empty(AliasDatabase.Compile(src, src + ".db", replaceDuplicates: true));
        AliasDatabase.Open(src, fx.Log)!.TryLookup("root", out t);
        Assert.Equal(["carol"], t);
    }

    [Fact]
    public void Compile_leaves_no_temporary_file_and_copies_read_permissions()
    {
        using var fx = new DeliveryFixture();
        string src = Path.Combine(fx.Root, "aliases");
        File.WriteAllText(src, "root: bob\n");
        File.SetUnixFileMode(src, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        AliasDatabase.Compile(src, src + ".db");
        Assert.Equal(["aliases", "aliases.db"], Directory.GetFiles(fx.Root).Select(Path.GetFileName).Order());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead, File.GetUnixFileMode(src + ".db"));
    }

    [Fact]
    public void Missing_database_gives_null_and_a_warning()
    {
        using var fx = new DeliveryFixture();
        string src = Path.Combine(fx.Root, "aliases");
        File.WriteAllText(src, "root: bob\n");
        Assert.Null(AliasDatabase.Open(src, fx.Log, fx.Clock));
        Assert.Equal([$"postfix/local[4242]: warning: hash:{src} is unavailable. open database {src}.db: No such file or directory"], fx.LogLines.Lines);
    }

    [Fact]
    public void A_source_changed_after_the_compile_is_reported_unless_the_change_is_recent()
    {
        using var fx = new DeliveryFixture();
        string src = Path.Combine(fx.Root, "aliases");
        File.WriteAllText(src, "root: bob\n");
        AliasDatabase.Compile(src, src + ".db");
        var now = DateTimeOffset.UtcNow;
        fx.Clock.Now = now;
        File.SetLastWriteTimeUtc(src + ".db", now.AddSeconds(-300).UtcDateTime);

        File.SetLastWriteTimeUtc(src, now.AddSeconds(-30).UtcDateTime); // edited 30 s ago: newaliases may be on its way
        Assert.NotNull(AliasDatabase.Open(src, fx.Log, fx.Clock));
        Assert.Empty(fx.LogLines.Lines);

        File.SetLastWriteTimeUtc(src, now.AddSeconds(-200).UtcDateTime);
        Assert.NotNull(AliasDatabase.Open(src, fx.Log, fx.Clock));
        Assert.Equal([$"postfix/local[4242]: warning: database {src}.db is older than source file {src}"], fx.LogLines.Lines);
    }

    [Fact]
    public void An_open_map_sees_a_recompiled_file()
    {
        using var fx = new DeliveryFixture();
        var db = fx.Aliases("root: bob\n");
        string src = Path.Combine(fx.Root, "aliases");
        File.WriteAllText(src, "root: carol\n");
        AliasDatabase.Compile(src, src + ".db");
        Assert.True(db.TryLookup("root", out var t));
        Assert.Equal(["carol"], t);
    }

    [Fact]
    public void A_file_that_is_not_an_alias_database_is_refused()
    {
        using var fx = new DeliveryFixture();
        string src = Path.Combine(fx.Root, "aliases");
        File.WriteAllText(src + ".db", "garbage");
        Assert.Null(AliasDatabase.Open(src, fx.Log));
        Assert.Contains("not a Posthorn alias database", Assert.Single(fx.LogLines.Lines));
    }

    [Fact]
    public void Texthash_maps_are_read_without_compiling()
    {
        using var fx = new DeliveryFixture();
        string src = Path.Combine(fx.Root, "aliases");
        File.WriteAllText(src, "Root: bob\n");
        var db = AliasDatabase.OpenMap("texthash:" + src, fx.Log)!;
        Assert.True(db.TryLookup("root", out var t));
        Assert.Equal(["bob"], t);
    }
}
