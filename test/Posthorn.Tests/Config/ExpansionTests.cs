using Posthorn.Config;
using Xunit;

namespace Posthorn.Tests.Config;

public class ExpansionTests
{
    private static string Expand(string value, string extra = "") =>
        TestConfig.Load($"{extra}\nx_text = {value}\nsmtpd_banner = $x_text\n").Get("x_text");

    [Theory]
    [InlineData("$myorigin", "mail.example.test")]
    [InlineData("${myorigin}", "mail.example.test")]
    [InlineData("$(myorigin)", "mail.example.test")]
    [InlineData("pre-${mydomain}-post", "pre-example.test-post")]
    [InlineData("$mydomain.", "example.test.")]
    [InlineData("a$$b", "a$b")]
    [InlineData("$$myhostname", "$myhostname")]
    [InlineData("${myhostname?set}", "set")]
    [InlineData("${relayhost?set}", "")]
    [InlineData("${myhostname:empty}", "")]
    [InlineData("${relayhost:empty}", "empty")]
    [InlineData("${myhostname?{has space}}", "has space")]
    [InlineData("${relayhost:{ spaced }}", " spaced ")]
    [InlineData("${myhostname?{yes}:{no}}", "yes")]
    [InlineData("${relayhost?{yes}:{no}}", "no")]
    [InlineData("${myhostname?$mydomain}", "example.test")]
    public void Expansion_forms(string value, string expected) => Assert.Equal(expected, Expand(value));

    [Fact]
    public void Expansion_is_lazy_and_order_independent()
    {
        var cfg = TestConfig.Load("myorigin = $mydomain\nmydomain = late.example.test\n");
        Assert.Equal("late.example.test", cfg.Get("myorigin"));
    }

    [Fact]
    public void Undefined_name_expands_to_empty_with_a_warning()
    {
        var cfg = TestConfig.Load("smtpd_banner = [$no_such_parameter]\n");
        Assert.Equal("[]", cfg.Get("smtpd_banner"));
        Assert.Contains(cfg.Warnings, w => w.EndsWith("undefined parameter: no_such_parameter", StringComparison.Ordinal));
    }

    [Fact]
    public void Loop_is_detected_not_a_stack_overflow()
    {
        var cfg = TestConfig.Load("myorigin = $relayhost\nrelayhost = x$myorigin\n");
        Assert.Equal("x", cfg.Get("myorigin"));
        Assert.Contains(cfg.Warnings, w => w.Contains("unreasonable macro call nesting", StringComparison.Ordinal));
    }

    [Fact]
    public void Self_reference_is_detected()
    {
        var cfg = TestConfig.Load("relayhost = $relayhost\n");
        Assert.Equal("", cfg.Get("relayhost"));
        Assert.Contains(cfg.Warnings, w => w.Contains("relayhost", StringComparison.Ordinal) && w.Contains("nesting", StringComparison.Ordinal));
    }

    [Fact]
    public void Loop_through_a_computed_default_terminates()
    {
        var cfg = TestConfig.Load("myhostname = host.$mydomain\n");
        Assert.Equal("host.example.test", cfg.Get("myhostname"));
        Assert.Contains(cfg.Warnings, w => w.Contains("nesting", StringComparison.Ordinal));
    }

    [Fact]
    public void Raw_parameter_is_not_expanded()
    {
        var cfg = TestConfig.Load("relayhost = x\n");
        Assert.Equal("$home/.forward${recipient_delimiter}${extension}, $home/.forward", cfg.Get("forward_path"));
        Assert.DoesNotContain(cfg.Warnings, w => w.Contains("home", StringComparison.Ordinal));
    }

    [Fact]
    public void User_defined_parameter_is_expanded_and_not_unused_when_referenced()
    {
        var cfg = TestConfig.Load("my_relay = relay.example.test\nrelayhost = [$my_relay]\n");
        Assert.Equal("[relay.example.test]", cfg.Get("relayhost"));
        Assert.DoesNotContain(cfg.Warnings, w => w.Contains("unused", StringComparison.Ordinal));
    }

    [Fact]
    public void Unreferenced_unknown_parameter_is_unused()
    {
        var cfg = TestConfig.Load("relay_hots = typo.example.test\n");
        Assert.Contains(cfg.Warnings, w => w.EndsWith("main.cf: unused parameter: relay_hots=typo.example.test", StringComparison.Ordinal));
    }

    [Fact]
    public void Per_service_parameter_is_not_unused()
    {
        var cfg = TestConfig.Load("relay_destination_concurrency_limit = 5\n",
            "relay unix - - n - - smtp\n");
        Assert.DoesNotContain(cfg.Warnings, w => w.Contains("unused", StringComparison.Ordinal));
    }

    [Fact]
    public void Get_of_unknown_unset_name_is_empty()
    {
        var cfg = TestConfig.Load("relayhost = x\n");
        Assert.Equal("", cfg.Get("no_such_parameter"));
        Assert.False(cfg.IsSet("no_such_parameter"));
    }
}
