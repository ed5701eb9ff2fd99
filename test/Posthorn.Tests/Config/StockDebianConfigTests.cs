using Posthorn.Daemon.Tools;
using Posthorn.Tests.Config.Parity;
using Xunit;
using Xunit.Abstractions;

namespace Posthorn.Tests.Config;

/// <summary>The main.cf and master.cf that Debian's postfix package installs load in Posthorn: <c>postfix check</c>
/// passes and names each Postfix parameter and service Posthorn ignores once; <c>postconf -n</c> is silent.</summary>
/// <remarks>The files are read where the package puts them (/usr/share/postfix), never copied into the
/// repository. Without the package each test writes why to the test output and returns.</remarks>
public sealed class StockDebianConfigTests(ITestOutputHelper output) : IDisposable
{
    private const string Share = "/usr/share/postfix";
    private readonly string _dir = Directory.CreateTempSubdirectory("posthorn-debian-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> MainCfFiles() => new() { "main.cf.debian", "main.cf.dist" };

    private bool Missing(params string[] files)
    {
        foreach (string f in files)
        {
            if (!File.Exists(Path.Combine(Share, f)))
            {
                output.WriteLine($"NOT RUN: {Path.Combine(Share, f)} is not installed (Debian package \"postfix\").");
                return true;
            }
        }
        return false;
    }

    [Theory]
    [MemberData(nameof(MainCfFiles))]
    public void Postfix_check_passes_with_one_warning_per_ignored_parameter_and_service(string mainCf)
    {
        if (Missing(mainCf, "master.cf.dist"))
            return;
        File.Copy(Path.Combine(Share, mainCf), Path.Combine(_dir, "main.cf"));
        File.Copy(Path.Combine(Share, "master.cf.dist"), Path.Combine(_dir, "master.cf"));
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int status = PostfixCheck.Run(new ToolContext { Out = stdout, Err = stderr, GetEnv = _ => null }, _dir, TestConfig.Host, _ => true);
        output.WriteLine(stderr.ToString());
        Assert.Equal(0, status);
        string[] lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain(lines, l => l.Contains("fatal", StringComparison.Ordinal));
        // The only other warning allowed is the one for a queue directory this machine does not have.
        Assert.All(lines, l => Assert.True(
            l.EndsWith("is a Postfix parameter that Posthorn does not implement; it has no effect", StringComparison.Ordinal)
            || l.EndsWith("is not implemented by Posthorn; the service is ignored", StringComparison.Ordinal)
            || l.EndsWith("does not exist; it is created at start", StringComparison.Ordinal), l));
        Assert.Equal(lines.Length, lines.Distinct().Count());
        // Debian's master.cf has pipe(8) services (maildrop, uucp, …) that Posthorn does not run.
        Assert.Contains(lines, l => l.Contains("service maildrop/unix: command pipe is not implemented", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(MainCfFiles))]
    public void Postconf_n_on_the_stock_files_is_silent_and_lists_every_setting(string mainCf)
    {
        if (Missing(mainCf, "master.cf.dist"))
            return;
        File.Copy(Path.Combine(Share, mainCf), Path.Combine(_dir, "main.cf"));
        File.Copy(Path.Combine(Share, "master.cf.dist"), Path.Combine(_dir, "master.cf"));
        var r = ToolRun.Postconf(TestConfig.Host, "-c", _dir, "-n");
        Assert.Equal(0, r.Status);
        Assert.Equal("", r.Err);
        Assert.Contains("compatibility_level = ", r.Out, StringComparison.Ordinal);
        if (ToolRun.WhyNoRealPostfix() is null)
            Assert.Equal(ToolRun.Real("postconf", null, "-c", _dir, "-n").Out, r.Out);
    }

    [Fact]
    public void Postconf_M_on_the_stock_master_cf_matches_the_real_postconf()
    {
        if (Missing("master.cf.dist"))
            return;
        File.WriteAllText(Path.Combine(_dir, "main.cf"), "");
        File.Copy(Path.Combine(Share, "master.cf.dist"), Path.Combine(_dir, "master.cf"));
        foreach (string flag in new[] { "-M", "-Mf", "-F", "-P" })
        {
            var ours = ToolRun.Postconf(TestConfig.Host, "-c", _dir, flag);
            Assert.Equal(0, ours.Status);
            Assert.Equal("", ours.Err);
            if (ToolRun.WhyNoRealPostfix() is null)
                Assert.Equal(ToolRun.Real("postconf", null, "-c", _dir, flag).Out, ours.Out);
        }
    }
}
