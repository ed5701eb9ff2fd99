using System.Text;
using Xunit;

namespace Posthorn.Tests.Config;

/// <summary>Regression for a crash found with fuzz/run.sh main-cf: $name expansion recursed once per nesting level
/// without a limit, so a long chain (p0 = $p1, p1 = $p2, …) or deeply nested ${x:${y:…}} overflowed the stack and
/// killed postconf or the daemon at load. Postfix mac_expand(3) stops at 100 levels with
/// "unreasonable macro call nesting".</summary>
public class ExpansionNestingStackOverflowTests
{
    private static string Chain(int length)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < length; i++) sb.Append($"p{i} = $p{i + 1}\n");
        return sb.Append($"p{length} = end\n").ToString();
    }

    [Fact]
    public void LongChain_StopsWithAWarningInsteadOfOverflowingTheStack()
    {
        var cfg = TestConfig.Load(Chain(5_000));
        Assert.Equal("", cfg.Get("p0"));
        Assert.Contains(cfg.Warnings, w => w.Contains("unreasonable macro call nesting", StringComparison.Ordinal));
    }

    [Fact]
    public void ChainWithinTheLimit_StillExpands()
    {
        var cfg = TestConfig.Load(Chain(90));
        Assert.Equal("end", cfg.Get("p0"));
        Assert.DoesNotContain(cfg.Warnings, w => w.Contains("nesting", StringComparison.Ordinal));
    }

    [Fact]
    public void DeeplyNestedConditional_StopsWithAWarning()
    {
        const int Depth = 5_000;
        string value = new StringBuilder().Insert(0, "${relayhost:", Depth).Append('v').Append('}', Depth).ToString();
        var cfg = TestConfig.Load($"x_text = {value}\nsmtpd_banner = $x_text\n");
        Assert.Equal("", cfg.Get("x_text"));
        Assert.Contains(cfg.Warnings, w => w.Contains("unreasonable macro call nesting", StringComparison.Ordinal));
    }
}
