using Posthorn.Tests.Config.Parity;
using Xunit;

namespace Posthorn.Tests.Tools;

/// <summary>Bad input gives one clear message that names the file and line, and never an exception trace. The
/// tools run through <see cref="Daemon.Tools.CommandTable"/>, the one entry point of the posthorn executable, so
/// an exception that escaped would fail the test here as it would print a trace there.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("posthorn-bad-").FullName;

    public BadInputTests() => File.WriteAllText(Path.Combine(_dir, "master.cf"), "smtp inet n - n - - smtpd\n");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string MainCf => Path.Combine(_dir, "main.cf");

    private static void AssertOneClearMessage(ToolResult r, string expected)
    {
        Assert.Equal(1, r.Status);
        Assert.DoesNotContain("   at ", r.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", r.Err, StringComparison.Ordinal);
        Assert.Equal(expected + "\n", r.Err);
    }

    [Fact]
    public void A_binary_main_cf_is_named_with_its_line_as_Postfix_does()
    {
        // An ELF header: a NUL ends the line for Postfix, which then has no '='.
        byte[] elf = [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0, (byte)'=', 0xff, 0xfe, (byte)'\n', 0x3e, 0, (byte)'=', 1];
        File.WriteAllBytes(MainCf, elf);
        AssertOneClearMessage(ToolRun.Posthorn("postconf", "-c", _dir, "-n"),
            $"postconf: fatal: {MainCf}, line 1: missing '=' after attribute name: \"?ELF???\"");
        AssertOneClearMessage(ToolRun.Posthorn("postfix", "-c", _dir, "check"),
            $"posthorn/postfix-script: fatal: {MainCf}, line 1: missing '=' after attribute name: \"?ELF???\"");
    }

    [Fact]
    public void A_10_MB_line_without_equals_is_named_and_quoted_short()
    {
        File.WriteAllText(MainCf, "myhostname = mail.example.com\n" + new string('x', 10_000_000) + "\n");
        AssertOneClearMessage(ToolRun.Posthorn("postconf", "-c", _dir, "-n"),
            $"postconf: fatal: {MainCf}, line 2: missing '=' after attribute name: \"{new string('x', 100)}... (10000000 characters)\"");
    }

    [Fact]
    public void A_10_MB_value_is_accepted_as_Postfix_accepts_it()
    {
        string value = new('v', 10_000_000);
        File.WriteAllText(MainCf, $"myhostname = mail.example.com\nsmtpd_banner = {value}\n");
        var r = ToolRun.Posthorn("postconf", "-c", _dir, "-h", "smtpd_banner");
        Assert.Equal(0, r.Status);
        Assert.Equal(value + "\n", r.Out);
    }

    [Theory]
    [InlineData("smtpd_banner = ${myhostname ESMTP", "${myhostname ESMTP")]
    [InlineData("smtpd_banner = $myhostname ${mydomain?{x}", "${mydomain?{x}")]
    [InlineData("smtpd_banner = $(myhostname", "$(myhostname")]
    public void An_unterminated_macro_is_fatal_with_file_and_line(string line, string truncated)
    {
        File.WriteAllText(MainCf, $"myhostname = mail.example.com\n{line}\n");
        AssertOneClearMessage(ToolRun.Posthorn("postconf", "-c", _dir, "-n"),
            $"postconf: fatal: {MainCf}, line 2: parameter smtpd_banner: truncated macro reference: \"{truncated}\"");
        AssertOneClearMessage(ToolRun.Posthorn("postfix", "-c", _dir, "check"),
            $"posthorn/postfix-script: fatal: {MainCf}, line 2: parameter smtpd_banner: truncated macro reference: \"{truncated}\"");
    }

    [Fact]
    public void A_regexp_table_with_a_broken_pattern_warns_once_with_file_and_line_and_still_answers()
    {
        string table = Path.Combine(_dir, "checks.regexp");
        File.WriteAllText(table, "/^ok@/ OK\n/^(unclosed@/ REJECT\n/^last@/ LAST\n");
        var r = ToolRun.Posthorn("postmap", "-q", "last@example.com", "regexp:" + table);
        Assert.Equal(0, r.Status);
        Assert.Equal("LAST\n", r.Out);
        Assert.Equal($"postmap: warning: regexp map {table}, line 2: Unmatched ( or \\(\n", r.Err);
    }
}
