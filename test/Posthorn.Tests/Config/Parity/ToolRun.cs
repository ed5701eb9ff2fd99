using System.Diagnostics;
using Posthorn.Config;
using Posthorn.Daemon.Tools;

namespace Posthorn.Tests.Config.Parity;

/// <summary>What one run of a tool gave: exit status, standard output, standard error.</summary>
internal sealed record ToolResult(int Status, string Out, string Err);

/// <summary>Runs Posthorn's tools in-process and the real Postfix tools as child processes, the same way.</summary>
internal static class ToolRun
{
    /// <summary>Where Debian installs Postfix's administration commands.</summary>
    public const string PostfixBin = "/usr/sbin";

    /// <summary>Null when the real postconf and postmap are installed, otherwise why the parity checks cannot run.</summary>
    public static string? WhyNoRealPostfix()
    {
        foreach (string tool in new[] { "postconf", "postmap" })
        {
            if (!File.Exists(Path.Combine(PostfixBin, tool)))
                return $"{Path.Combine(PostfixBin, tool)} is not installed (Debian package \"postfix\"): the side-by-side "
                    + "comparison with the real Postfix did not run; the golden tests (PostfixGoldenTests) still did.";
        }
        return null;
    }

    /// <summary>Posthorn's postconf, in-process, with the given machine.</summary>
    public static ToolResult Postconf(HostInfo host, params string[] args) =>
        Run(ctx => Daemon.Tools.Postconf.Run(args, ctx, host));

    /// <summary>Posthorn's postmap, in-process.</summary>
    public static ToolResult Postmap(string? stdin, params string[] args) =>
        Run(ctx => Daemon.Tools.Postmap.Run(args, ctx), stdin);

    /// <summary>Any posthorn subcommand through the command table, as the executable runs it.</summary>
    public static ToolResult Posthorn(params string[] args) =>
        Run(ctx => CommandTable.RunAsync("posthorn", args, ctx).GetAwaiter().GetResult());

    private static ToolResult Run(Func<ToolContext, int> tool, string? stdin = null)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var ctx = new ToolContext { Out = stdout, Err = stderr, In = new StringReader(stdin ?? ""), GetEnv = _ => null };
        int status = tool(ctx);
        return new ToolResult(status, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A real Postfix tool (postconf, postmap) as a child process, without MAIL_CONFIG.</summary>
    public static ToolResult Real(string tool, string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(PostfixBin, tool))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        psi.Environment.Remove("MAIL_CONFIG");
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(stdin ?? "");
        p.StandardInput.Close();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill();
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish in 60 s");
        }
        // Postfix names itself by argv[0]; typed at a shell prompt that is the bare tool name.
        string err = error.Result.Replace($"{Path.Combine(PostfixBin, tool)}: ", $"{tool}: ", StringComparison.Ordinal);
        return new ToolResult(p.ExitCode, output.Result, err);
    }
}
