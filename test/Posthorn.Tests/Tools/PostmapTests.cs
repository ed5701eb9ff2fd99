using Posthorn.Daemon.Tools;
using Posthorn.Tests.Config.Tables;
using Xunit;

namespace Posthorn.Tests.Tools;

public class PostmapTests
{
    private static (int Rc, string Out, string Err) Run(string stdin, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var ctx = new ToolContext { Out = o, Err = e, In = new StringReader(stdin), GetEnv = _ => null };
        int rc = Postmap.Run(args, ctx);
        return (rc, o.ToString(), e.ToString());
    }

    [Fact]
    public void Compile_then_query_finds_the_value_with_exit_0_and_a_miss_exits_1()
    {
        using var d = new TableDir();
        string src = d.Write("virtual", "# virtual(5)\nInfo@Example.test   alice\nsales@example.test bob, carol\n");
        Assert.Equal((0, "", ""), Run("", "hash:" + src));
        Assert.True(File.Exists(src + ".db"));
        Assert.Equal((0, "alice\n", ""), Run("", "-q", "info@EXAMPLE.test", "hash:" + src));
        Assert.Equal((1, "", ""), Run("", "-q", "nobody@example.test", src));
    }

    [Fact]
    public void Query_from_stdin_prints_key_tab_value_for_each_hit()
    {
        using var d = new TableDir();
        string src = d.Write("t", "a 1\nb 2\n");
        Run("", src);
        Assert.Equal((0, "a\t1\nb\t2\n", ""), Run("a\nzz\nb\n", "-q", "-", "hash:" + src));
    }

    [Fact]
    public void Dash_s_lists_every_entry_in_source_order()
    {
        using var d = new TableDir();
        string src = d.Write("t", "k2 v2\nK1 v1\n");
        Run("", src);
        Assert.Equal((0, "k2\tv2\nk1\tv1\n", ""), Run("", "-s", "hash:" + src));
    }

    [Fact]
    public void Dash_f_keeps_the_key_case()
    {
        using var d = new TableDir();
        string src = d.Write("t", "Key v\n");
        Run("", "-f", src);
        Assert.Equal(0, Run("", "-q", "Key", src).Rc);
        Assert.Equal(1, Run("", "-q", "key", src).Rc);
    }

    [Fact]
    public void Duplicates_warn_by_default_and_dash_r_replaces()
    {
        using var d = new TableDir();
        string src = d.Write("t", "a 1\na 2\n");
        var (rc, _, err) = Run("", src);
        Assert.Equal(0, rc);
        Assert.Equal($"postmap: warning: {src}, line 2: duplicate entry: \"a\"\n", err.ReplaceLineEndings("\n"));
        Assert.Equal("1\n", Run("", "-q", "a", src).Out);
        Run("", "-r", src);
        Assert.Equal("2\n", Run("", "-q", "a", src).Out);
    }

    [Fact]
    public void Dash_d_removes_a_key_and_dash_i_adds_from_stdin()
    {
        using var d = new TableDir();
        string src = d.Write("t", "a 1\nb 2\n");
        Run("", src);
        Assert.Equal(0, Run("", "-d", "A", src).Rc);
        Assert.Equal(1, Run("", "-q", "a", src).Rc);
        Assert.Equal(1, Run("", "-d", "a", src).Rc);
        Assert.Equal(0, Run("c 3\n", "-i", src).Rc);
        Assert.Equal("b\t2\nc\t3\n", Run("", "-s", src).Out);
    }

    [Fact]
    public void Other_table_types_can_be_queried()
    {
        using var d = new TableDir();
        string cidr = d.Write("c", "10.0.0.0/8 TEN\n");
        Assert.Equal((0, "TEN\n", ""), Run("", "-q", "10.2.3.4", "cidr:" + cidr));
        Assert.Equal((0, "v 2\n", ""), Run("", "-q", "k2", "inline:{ k1=v1, { k2 = v 2 } }"));
    }

    [Fact]
    public void Missing_source_or_database_and_unbuildable_types_are_fatal()
    {
        using var d = new TableDir();
        string src = Path.Combine(d.Path, "none");
        Assert.Equal((1, "", $"postmap: fatal: open {src}: No such file or directory\n"), Norm(Run("", src)));
        Assert.Equal((1, "", $"postmap: fatal: open database {src}.db: No such file or directory\n"), Norm(Run("", "-q", "k", src)));
        Assert.Equal((1, "", "postmap: fatal: unsupported dictionary type: cidr\n"), Norm(Run("", "cidr:" + src)));
        Assert.Equal(1, Run("").Rc);
    }

    private static (int, string, string) Norm((int Rc, string Out, string Err) r) => (r.Rc, r.Out, r.Err.ReplaceLineEndings("\n"));
}
