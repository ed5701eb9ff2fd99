using Posthorn.Config;
using Xunit;

namespace Posthorn.Tests.Config;

public class MainCfParserTests
{
    [Fact]
    public void Comment_lines_and_blank_lines_are_ignored()
    {
        var cfg = TestConfig.Load("# a comment\n\n   \n   # indented comment\nrelayhost = [smarthost.example.test]\n");
        Assert.Equal(["relayhost"], cfg.SetNames);
        Assert.Equal("[smarthost.example.test]", cfg.Get("relayhost"));
    }

    [Fact]
    public void Hash_after_text_is_part_of_the_value()
    {
        var cfg = TestConfig.Load("smtpd_banner = $myhostname # not a comment\n");
        Assert.Equal("$myhostname # not a comment", cfg.GetRaw("smtpd_banner"));
    }

    [Fact]
    public void White_space_around_equals_is_optional_and_trailing_space_is_dropped()
    {
        var cfg = TestConfig.Load("relayhost=relay.example.test   \nmyorigin\t=  example.test\n");
        Assert.Equal("relay.example.test", cfg.GetRaw("relayhost"));
        Assert.Equal("example.test", cfg.GetRaw("myorigin"));
    }

    [Fact]
    public void Line_starting_with_white_space_continues_the_logical_line()
    {
        var cfg = TestConfig.Load("mydestination = a.example.test,\n    b.example.test\n\tc.example.test\nrelayhost = x\n");
        Assert.Equal(["a.example.test", "b.example.test", "c.example.test"], cfg.GetList("mydestination"));
        Assert.Equal("x", cfg.Get("relayhost"));
    }

    [Fact]
    public void Comment_between_continuation_lines_does_not_end_the_logical_line()
    {
        var cfg = TestConfig.Load("mydestination = a.example.test,\n# note\n    b.example.test\n");
        Assert.Equal(["a.example.test", "b.example.test"], cfg.GetList("mydestination"));
    }

    [Fact]
    public void Garbage_line_is_fatal_and_names_file_and_line()
    {
        using var t = new TestConfig("# header\nrelayhost = x\n\ngarbage\n");
        var e = Assert.Throws<ConfigException>(t.Load);
        Assert.Equal(4, e.Line);
        Assert.Equal(t.MainCf, e.File);
        Assert.Equal($"{t.MainCf}, line 4: missing '=' after attribute name: \"garbage\"", e.Message);
    }

    [Fact]
    public void Garbage_continuation_is_reported_at_the_first_line_of_its_logical_line()
    {
        using var t = new TestConfig("relayhost = x\nfoo\n  bar\n");
        var e = Assert.Throws<ConfigException>(t.Load);
        Assert.Equal(2, e.Line);
        Assert.Contains("\"foo  bar\"", e.Message);
    }

    [Fact]
    public void Missing_name_is_fatal()
    {
        using var t = new TestConfig(" \n= value\n");
        var e = Assert.Throws<ConfigException>(t.Load);
        Assert.Equal(2, e.Line);
        Assert.Contains("missing attribute name", e.Message);
    }

    [Fact]
    public void Last_setting_wins_with_a_warning_that_shows_the_earlier_value_as_Postfix_does()
    {
        var cfg = TestConfig.Load("relayhost = first\nrelayhost = second\n");
        Assert.Equal("second", cfg.Get("relayhost"));
        Assert.Contains(cfg.Warnings, w => w.EndsWith(", line 2: overriding earlier entry: relayhost=first", StringComparison.Ordinal));
    }

    [Fact]
    public void Crlf_line_endings_are_accepted()
    {
        var cfg = TestConfig.Load("relayhost = x\r\nmyorigin = y\r\n");
        Assert.Equal("x", cfg.Get("relayhost"));
        Assert.Equal("y", cfg.Get("myorigin"));
    }

    [Fact]
    public void Missing_main_cf_is_a_config_exception()
    {
        string dir = Directory.CreateTempSubdirectory("posthorn-config-").FullName;
        try
        {
            var e = Assert.Throws<ConfigException>(() => ConfigSnapshot.Load(dir, TestConfig.Host));
            Assert.Equal($"open {Path.Combine(dir, "main.cf")}: No such file or directory", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
