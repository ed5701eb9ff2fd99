using Posthorn.Daemon.Tools;
using Xunit;

namespace Posthorn.Tests.Tools;

/// <summary>postalias -i, -q and -s as postmap's: incremental additions from standard input, options in postmap's syntax.</summary>
public sealed class PostaliasTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-postalias-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string PathOf(string name) => Path.Combine(_dir.FullName, name);

    private static (int Status, string Out, string Err) Postalias(string stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var ctx = new ToolContext { Out = stdout, Err = stderr, In = new StringReader(stdin), GetEnv = _ => null };
        int status = Daemon.Tools.Postalias.Run(args, ctx);
        return (status, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Dash_i_adds_standard_input_to_the_database_without_reading_the_source_again()
    {
        string aliases = PathOf("aliases");
        File.WriteAllText(aliases, "postmaster: root\nabuse: root, \"|/usr/bin/logger -t abuse\"\n");
        Assert.Equal(0, Postalias("", aliases).Status);
        // The source changes, but -i must not rebuild from it.
        File.WriteAllText(aliases, "postmaster: nobody-from-the-source\n");

        var (status, _, err) = Postalias("webmaster: alice,\n  \"/var/log/web mail\"\nPostmaster: bob\n", "-i", aliases);
        Assert.Equal(0, status);
        Assert.Equal($"postalias: warning: {aliases}.db: duplicate entry: \"postmaster\"\n", err);

        // The same entries compiled in one go give the same listing.
        string whole = PathOf("whole");
        File.WriteAllText(whole, "postmaster: root\nabuse: root, \"|/usr/bin/logger -t abuse\"\nwebmaster: alice, \"/var/log/web mail\"\n");
        Assert.Equal(0, Postalias("", whole).Status);
        var expected = Postalias("", "-s", whole).Out;
        Assert.Equal(expected, Postalias("", "-s", aliases).Out);
        Assert.Contains("abuse: root, |/usr/bin/logger -t abuse\n", expected, StringComparison.Ordinal);
        Assert.Equal("root\n", Postalias("", "-q", "postmaster", aliases).Out);
    }

    [Fact]
    public void Dash_i_with_dash_r_replaces_and_creates_a_missing_database()
    {
        string aliases = PathOf("new");
        Assert.False(File.Exists(aliases + ".db"));
        Assert.Equal(0, Postalias("a: one\n", "-i", aliases).Status);
        var (status, _, err) = Postalias("a: two\n", "-ri", $"hash:{aliases}");
        Assert.Equal(0, status);
        Assert.Equal("", err);
        Assert.Equal("two\n", Postalias("", "-q", "a", aliases).Out);
    }

    [Fact]
    public void Options_take_postmap_syntax_with_the_value_attached_or_apart()
    {
        string aliases = PathOf("aliases");
        File.WriteAllText(aliases, "postmaster: root\n");
        Assert.Equal(0, Postalias("", "-c", _dir.FullName, aliases).Status);
        Assert.Equal((0, "root\n", ""), Postalias("", "-qpostmaster", aliases));
        Assert.Equal((0, "root\n", ""), Postalias("", "-vq", "postmaster", aliases));
        Assert.Equal((0, "postmaster: root\n", ""), Postalias("", $"-c{_dir.FullName}", "-s", aliases));
        Assert.Equal((0, "postmaster: root\n", ""), Postalias("nobody\npostmaster\n", "-q", "-", aliases));
        Assert.Equal(1, Postalias("", "-q", "nobody", aliases).Status);
        Assert.StartsWith("postalias: fatal: usage:", Postalias("", "-q").Err, StringComparison.Ordinal);
    }
}
