namespace Posthorn.Daemon.Tools;

/// <summary><c>posthorn install-links DIR</c>: writes wrappers named like the Postfix tools, so that
/// <c>postconf -n</c> or <c>mailq</c> work as typed in any Postfix tutorial once DIR is on PATH.</summary>
public static class InstallLinks
{
    public static readonly string[] Names =
        ["postfix", "postconf", "sendmail", "newaliases", "mailq", "postqueue", "postsuper", "postcat", "postalias", "postmap"];

    public static int Run(string[] args, ToolContext ctx)
    {
        if (args.Length != 1)
        {
            ctx.Err.WriteLine("posthorn: fatal: usage: posthorn install-links DIR");
            return 64;
        }
        string dir = Path.GetFullPath(args[0]);
        Directory.CreateDirectory(dir);
        var self = (NativeFront(ctx) is { } native ? [native] : PostfixCommand.SelfCommand(ctx)).Select(Quote);
        foreach (var name in Names)
        {
            string path = Path.Combine(dir, name);
            // A script rather than a symlink: it also works when posthorn runs as "dotnet posthorn.dll".
            File.WriteAllText(path, $"#!/bin/sh\nexec {string.Join(' ', self)} {name} \"$@\"\n");
            File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
            ctx.Out.WriteLine(path);
        }
        return 0;
    }

    /// <summary>native/posthorn-tools beside the apphost (src/Posthorn.Tools, made by the Release build): it runs
    /// the one-shot tools in milliseconds and passes every other command to posthorn. Null when it is not there.</summary>
    private static string? NativeFront(ToolContext ctx)
    {
        if (ctx.ExecutablePath is not { } exe || Path.GetDirectoryName(exe) is not { } dir) return null;
        string native = Path.Combine(dir, "native", "posthorn-tools");
        return File.Exists(native) ? native : null;
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}
