using Posthorn.Daemon.Tools;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>postalias(1) and newaliases(1).</summary>
public class AliasToolsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("posthorn-postalias-").FullName;
    private readonly StringWriter _out = new(), _err = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ToolContext Ctx(string stdin = "") => new() { Out = _out, Err = _err, In = new StringReader(stdin) };

    private string Source(string text)
    {
        string path = Path.Combine(_dir, "aliases");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Newaliases_compiles_hash_maps_and_reports_problems_as_postalias_does()
    {
        string src = Source("root: bob\nbad line\nroot: carol\n");
        Assert.Equal(0, Newaliases.Run([], Ctx(), [$"hash:{src}", $"texthash:{src}"]));
        Assert.Equal(
            $"postalias: warning: {src}, line 2: need name:value pair\npostalias: warning: {src}.db: duplicate entry: \"root\"\n",
            _err.ToString().ReplaceLineEndings("\n"));
        Assert.True(File.Exists(src + ".db"));
    }

    [Fact]
    public void Newaliases_with_a_missing_source_is_fatal()
    {
        string src = Path.Combine(_dir, "missing");
        Assert.Equal(1, Newaliases.Run([], Ctx(), [$"hash:{src}"]));
        Assert.Equal($"postalias: fatal: open {src}: No such file or directory\n", _err.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Newaliases_refuses_recipients()
    {
        Assert.Equal(64, Newaliases.Run(["bob"], Ctx(), []));
        Assert.Equal("newaliases: fatal: alias initialization mode requires no recipient\n", _err.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Postalias_compiles_then_queries_with_exit_status_for_found()
    {
        string src = Source("Root: bob, carol\npostmaster: root\n");
        Assert.Equal(0, Postalias.Run([src], Ctx()));
        Assert.Equal(0, Postalias.Run(["-q", "ROOT", $"hash:{src}"], Ctx()));
        Assert.Equal("bob, carol\n", _out.ToString().ReplaceLineEndings("\n"));
        Assert.Equal(1, Postalias.Run(["-q", "nobody", $"hash:{src}"], Ctx()));
        Assert.Equal("", _err.ToString());
    }

    [Fact]
    public void Postalias_reads_keys_from_stdin_and_lists_everything()
    {
        string src = Source("root: bob\npostmaster: root\n");
        Assert.Equal(0, Postalias.Run([$"hash:{src}"], Ctx()));
        Assert.Equal(0, Postalias.Run(["-q", "-", $"hash:{src}"], Ctx("postmaster\nunknown\nroot\n")));
        Assert.Equal(0, Postalias.Run(["-s", $"hash:{src}"], Ctx()));
        Assert.Equal("postmaster: root\nroot: bob\npostmaster: root\nroot: bob\n", _out.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Postalias_query_of_a_map_never_built_is_fatal()
    {
        string src = Source("root: bob\n");
        Assert.Equal(1, Postalias.Run(["-q", "root", $"hash:{src}"], Ctx()));
        Assert.Equal($"postalias: fatal: open database {src}.db: No such file or directory\n", _err.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Postalias_without_a_map_prints_usage()
    {
        Assert.Equal(1, Postalias.Run(["-q", "root"], Ctx()));
        Assert.StartsWith("postalias: fatal: usage: postalias", _err.ToString());
        _err.GetStringBuilder().Clear();
        Assert.Equal(1, Postalias.Run(["-Z", "/etc/aliases"], Ctx()));
        Assert.StartsWith("postalias: fatal: usage: postalias", _err.ToString());
    }

    [Fact]
    public void Postalias_r_lets_the_last_duplicate_win()
    {
        string src = Source("root: bob\nroot: carol\n");
        Assert.Equal(0, Postalias.Run(["-r", src], Ctx()));
        Assert.Equal("", _err.ToString());
        Assert.Equal(0, Postalias.Run(["-q", "root", src], Ctx()));
        Assert.Equal("carol\n", _out.ToString().ReplaceLineEndings("\n"));
    }
}
