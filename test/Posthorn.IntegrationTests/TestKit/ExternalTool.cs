namespace Posthorn.IntegrationTests.TestKit;

/// <summary>Runs the real third-party clients (swaks, mutt, nc, script) the user story names.</summary>
/// <remarks>A missing tool FAILS the test with the install command: the suite proves that these
/// clients work with Posthorn, and a skipped proof is no proof. .ci/run installs them.</remarks>
public static class ExternalTool
{
    /// <summary>The full path of <paramref name="name"/> on PATH, or a failure naming the Debian package.</summary>
    public static string Require(string name, string package)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':'))
        {
            if (dir.Length == 0) continue;
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.OtherExecute | UnixFileMode.UserExecute)) != 0)
                return candidate;
        }
        throw new Xunit.Sdk.XunitException($"{name} is not installed: install {package} (apt-get install {package})");
    }

    public static Task<ToolResult> RunAsync(
        string name, string package, IEnumerable<string> args, TimeSpan? timeout = null,
        string? stdin = null, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null) =>
        ProcessRunner.RunAsync(Require(name, package), args, timeout ?? TimeSpan.FromSeconds(60), environment, stdin, workingDirectory);
}
