using System.Runtime.InteropServices;

namespace Posthorn.Tools;

/// <summary>The managed posthorn (the apphost) that runs every command the native front does not.</summary>
internal static unsafe partial class ManagedPosthorn
{
    /// <summary>The apphost <c>posthorn</c> in the directory above this executable's (native/..), else beside it.</summary>
    public static string Locate()
    {
        string dir = Path.GetDirectoryName(Environment.ProcessPath) ?? ".";
        string above = Path.Combine(dir, "..", "posthorn");
        return Path.GetFullPath(File.Exists(above) ? above : Path.Combine(dir, "posthorn"));
    }

    /// <summary>Replaces this process by <c>posthorn ARGS…</c> (execv(2)); returns only when that fails, with
    /// EX_UNAVAILABLE (69) after a message.</summary>
    public static int Exec(string path, string[] args)
    {
        byte*[] argv = new byte*[args.Length + 2];
        argv[0] = (byte*)Marshal.StringToCoTaskMemUTF8(path);
        for (int i = 0; i < args.Length; i++)
            argv[i + 1] = (byte*)Marshal.StringToCoTaskMemUTF8(args[i]);
        // Whatever this process wrote must be out before the image is replaced.
        Console.Out.Flush();
        Console.Error.Flush();
        fixed (byte** p = argv)
            execv(argv[0], p);
        int errno = Marshal.GetLastPInvokeError();
        Console.Error.WriteLine($"posthorn: fatal: cannot run {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        return 69;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int execv(byte* path, byte** argv);
}
