namespace Posthorn.IntegrationTests.TestKit;

/// <summary>Finds the <c>posthorn</c> executable that the build copies next to the tests.</summary>
/// <remarks>The test project references src/Posthorn, so <c>posthorn.dll</c> and (on Linux) the
/// apphost <c>posthorn</c> land in the test output directory. The apphost is preferred, as a user
/// would run it; otherwise <c>dotnet exec posthorn.dll</c>.</remarks>
public sealed record PosthornExecutable(string FileName, IReadOnlyList<string> LeadingArgs)
{
    public static PosthornExecutable Locate()
    {
        string dir = AppContext.BaseDirectory;
        string apphost = Path.Combine(dir, "posthorn");
        if (File.Exists(apphost) && (File.GetUnixFileMode(apphost) & UnixFileMode.UserExecute) != 0)
            return new PosthornExecutable(apphost, []);
        string dll = Path.Combine(dir, "posthorn.dll");
        if (File.Exists(dll))
            return new PosthornExecutable(DotnetHost(), ["exec", dll]);
        throw new FileNotFoundException($"neither posthorn nor posthorn.dll is in {dir}; is src/Posthorn referenced and built?");
    }

    /// <summary>The argument list for <paramref name="args"/>, after any <c>exec posthorn.dll</c>.</summary>
    public IEnumerable<string> Arguments(IEnumerable<string> args) => LeadingArgs.Concat(args);

    /// <summary>Environment the child needs to find the .NET runtime when it is not installed in a default place.</summary>
    public static IReadOnlyDictionary<string, string?> RuntimeEnvironment()
    {
        var env = new Dictionary<string, string?>();
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is null)
        {
            string host = DotnetHost();
            if (Path.IsPathRooted(host))
            {
                // /usr/bin/dotnet is often a symlink into the real install directory.
                string real = new FileInfo(host).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? host;
                env["DOTNET_ROOT"] = Path.GetDirectoryName(real);
            }
        }
        return env;
    }

    private static string DotnetHost()
    {
        // dotnet test sets DOTNET_HOST_PATH; the test host itself usually runs under the muxer.
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath))
            return hostPath;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet")
            return self;
        return "dotnet";
    }
}
