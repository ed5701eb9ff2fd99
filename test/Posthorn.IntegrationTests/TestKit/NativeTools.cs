namespace Posthorn.IntegrationTests.TestKit;

/// <summary>The native front <c>native/posthorn-tools</c> that the Release build of src/Posthorn makes beside
/// <c>posthorn</c> (src/Posthorn.Tools). It is not copied next to the tests: it runs from src/Posthorn's output, where
/// it finds the managed posthorn it hands other commands to.</summary>
public static class NativeTools
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    /// <summary>src/Posthorn/bin/CONFIGURATION/net10.0/native/posthorn-tools, found from the test output directory up.</summary>
    public static string Path { get; } = Locate();

    /// <summary>Whether this test build can expect the native front: only the Release build makes it, and only
    /// where it finds a C linker (clang or gcc) on PATH.</summary>
    public static bool Expected => Configuration == "Release" && (OnPath("clang") || OnPath("gcc"));

    private static bool OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(System.IO.Path.Combine(dir, name)));

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Posthorn.slnx")))
                return System.IO.Path.Combine(dir.FullName, "src", "Posthorn", "bin", Configuration, "net10.0", "native", "posthorn-tools");
        }
        return "posthorn-tools";
    }

    /// <summary>Runs the native front (or <paramref name="link"/>, a link to it) with <paramref name="args"/> in
    /// <paramref name="d"/>'s environment (MAIL_CONFIG = its config dir), as DaemonProcess.RunToolAsync runs posthorn.</summary>
    public static Task<ToolResult> RunAsync(DaemonProcess d, string? link, params string[] args) => RunAsync(d, link, null, args);

    public static Task<ToolResult> RunAsync(DaemonProcess d, string? link, string? stdin, string[] args)
    {
        if (!File.Exists(Path))
            throw new FileNotFoundException($"{Path} is missing: the Release build of src/Posthorn makes it (unless -p:PosthornNativeTools=false)");
        var env = new Dictionary<string, string?>(PosthornExecutable.RuntimeEnvironment()) { ["MAIL_CONFIG"] = d.ConfigDir };
        return ProcessRunner.RunAsync(link ?? Path, args, DaemonProcess.ToolTimeout, env, stdin, d.ConfigDir);
    }
}

/// <summary>A test of the native front: run by the Release tests (where a missing binary fails them), skipped by the
/// Debug ones, whose build does not compile it, and where no C linker is installed (the build then says it skipped it).</summary>
public sealed class NativeToolsFactAttribute : FactAttribute
{
    public NativeToolsFactAttribute()
    {
        if (!NativeTools.Expected)
            Skip = "the native front (native/posthorn-tools) is made by the Release build only, with clang or gcc installed";
    }
}
