using Posthorn.Config.Tables;
using Xunit;

namespace Posthorn.Tests.Config.Tables;

public class SimpleTableTests
{
    private static ILookupTable Open(string spec) => LookupTables.Open(spec, new LookupTableOptions());

    [Fact]
    public void Inline_takes_key_value_pairs_and_braced_pairs_with_white_space()
    {
        var t = Open("inline:{ k1=v1, { k2 = v 2 }, K3=v3 }");
        Assert.True(t.TryLookup("k1", out string v));
        Assert.Equal("v1", v);
        Assert.True(t.TryLookup("K2", out v));
        Assert.Equal("v 2", v);
        Assert.True(t.TryLookup("k3", out v));
        Assert.Equal("v3", v);
        Assert.False(t.TryLookup("k4", out _));
    }

    [Theory]
    [InlineData("inline:k=v")]
    [InlineData("inline:{ novalue }")]
    public void Inline_without_braces_or_equals_is_rejected(string spec) =>
        Assert.Throws<LookupTableException>(() => Open(spec));

    [Theory]
    [InlineData("static:OK", "OK")]
    [InlineData("static:{ text with spaces }", "text with spaces")]
    public void Static_answers_every_key(string spec, string expected)
    {
        Assert.True(Open(spec).TryLookup("anything", out string v));
        Assert.Equal(expected, v);
    }

    [Fact]
    public void Fail_fails_every_lookup()
    {
        var t = Open("fail:test");
        Assert.Equal("fail:test", t.Name);
        Assert.Throws<LookupTableException>(() => t.TryLookup("x", out _));
    }

    [Fact]
    public void Unknown_type_is_unsupported()
    {
        var e = Assert.Throws<LookupTableException>(() => Open("ldap:/etc/x"));
        Assert.Equal("unsupported dictionary type: ldap", e.Message);
    }

    [Fact]
    public void OpenOrFail_warns_and_returns_a_failing_table()
    {
        var warnings = new List<string>();
        var t = LookupTables.OpenOrFail("hash:/nonexistent/x", new LookupTableOptions { Warn = warnings.Add });
        Assert.Equal(["hash:/nonexistent/x is unavailable. open database /nonexistent/x.db: No such file or directory"], warnings);
        Assert.Throws<LookupTableException>(() => t.TryLookup("k", out _));
    }

    [Fact]
    public void Unix_passwd_and_group_return_the_whole_line()
    {
        using var d = new TableDir();
        var o = new LookupTableOptions
        {
            PasswdFile = d.Write("passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n"),
            GroupFile = d.Write("group", "mail:x:8:alice,bob\n"),
        };
        Assert.True(LookupTables.Open("unix:passwd.byname", o).TryLookup("alice", out string v));
        Assert.Equal("alice:x:1000:1000:Alice:/home/alice:/bin/bash", v);
        Assert.False(LookupTables.Open("unix:passwd.byname", o).TryLookup("Alice", out _));
        Assert.True(LookupTables.Open("unix:group.byname", o).TryLookup("mail", out v));
        Assert.Equal("mail:x:8:alice,bob", v);
    }

    [Fact]
    public void Proxy_passes_through_to_the_named_table()
    {
        Assert.True(Open("proxy:static:yes").TryLookup("k", out string v));
        Assert.Equal("yes", v);
    }

    [Fact]
    public void Environ_looks_up_the_process_environment_by_exact_variable_name()
    {
        var env = new Dictionary<string, string> { ["MAIL_CONFIG"] = "/etc/postfix", ["TZ"] = "UTC" };
        var t = LookupTables.Open("environ:table", new LookupTableOptions { GetEnvironment = n => env.GetValueOrDefault(n) });
        Assert.True(t.TryLookup("TZ", out string v));
        Assert.Equal("UTC", v);
        Assert.False(t.TryLookup("tz", out _));
        Assert.False(t.TryLookup("HOME", out _));
        Assert.True(LookupTables.IsTableReference("environ:table"));
    }
}
