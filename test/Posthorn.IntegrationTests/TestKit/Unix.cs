using System.Globalization;
using System.Runtime.InteropServices;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>The few POSIX facts the tests need: who we are, who owns a file, signals.</summary>
public static partial class Unix
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    public static bool IsRoot => geteuid() == 0;

    public static uint EffectiveUid => geteuid();

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false if the process is gone.</summary>
    public static bool Signal(int pid, int signal) => kill(pid, signal) == 0;

    /// <summary>The numeric owner of <paramref name="path"/> (lstat: a symlink is not followed).</summary>
    public static async Task<uint> OwnerUidAsync(string path)
    {
        var r = await ProcessRunner.RunAsync("stat", ["-c", "%u", path], TimeSpan.FromSeconds(30));
        if (r.ExitCode != 0) throw new IOException($"stat {path} failed: {r}");
        return uint.Parse(r.Stdout.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>The uid of <paramref name="user"/> from the passwd database (<c>id -u</c>), or null when there is no such user.</summary>
    public static async Task<uint?> UidOfAsync(string user)
    {
        var r = await ProcessRunner.RunAsync("id", ["-u", user], TimeSpan.FromSeconds(30));
        return r.ExitCode == 0 ? uint.Parse(r.Stdout.Trim(), CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Processes whose command line or environment mentions <paramref name="marker"/> (a test's
    /// unique temp directory), i.e. daemons a test started, also those that daemonized themselves.</summary>
    public static IReadOnlyList<int> ProcessesMentioning(string marker)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            if (pid == Environment.ProcessId) continue;
            if (Mentions(Path.Combine(dir, "cmdline"), marker) || Mentions(Path.Combine(dir, "environ"), marker))
                found.Add(pid);
        }
        return found;
    }

    private static bool Mentions(string procFile, string marker)
    {
        try
        {
            return File.ReadAllText(procFile).Contains(marker, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;   // gone, or not ours to read
        }
    }

    [LibraryImport("libc")]
    private static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
