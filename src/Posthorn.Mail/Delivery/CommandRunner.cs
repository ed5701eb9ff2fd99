using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Posthorn.Mail.Delivery;

/// <summary>What to run for one |command delivery.</summary>
/// <param name="SwitchTo">uid/gid the command runs as, or null to keep the daemon's (not root).</param>
/// <param name="Shell">local_command_shell split into words, or empty for <c>/bin/sh -c</c>.</param>
/// <param name="WriteInput">writes the message to the command's standard input.</param>
/// <param name="Argv">pipe(8): the program and its arguments, run without a shell; null runs
/// <paramref name="Command"/> through the shell (local(8)). <paramref name="Command"/> then only names it in texts.</param>
internal sealed record CommandSpec(
    string Command, (uint Uid, uint Gid)? SwitchTo, IReadOnlyDictionary<string, string> Environment,
    string WorkingDirectory, IReadOnlyList<string> Shell, TimeSpan TimeLimit, string SetprivPath, Action<Stream> WriteInput,
    IReadOnlyList<string>? Argv = null);

internal enum CommandStatus { Ok, Defer, Bounce }

/// <summary>The outcome, with Postfix's DSN status and text.</summary>
internal readonly record struct CommandResult(CommandStatus Status, string Dsn, string Text);

/// <summary>Postfix pipe_command(3), shared by local(8) commands and pipe(8): runs a command with a message on standard input, captures
/// a little of its output, enforces a time limit and maps the exit status through sysexits.h.</summary>
/// <remarks>
/// Security: the command gets a fresh environment (only the values given), never the daemon's.
/// As root the ids change in the child before the shell starts: util-linux setpriv(1) sets the
/// real, effective and saved uid and gid and the supplementary groups to just the gid (Postfix
/// set_ugid() does setgroups(1, &amp;gid)), which also drops every capability. .NET cannot run
/// code between fork and exec, so a small exec'ed helper is the way to do it; it execs the shell,
/// so the process id stays the same and killing it kills the shell.
/// Limits: output (stdout and stderr together, as Postfix joins them) is kept up to 4096 bytes,
/// Postfix's VSTREAM_BUFSIZE; the rest is read and dropped so the command never blocks on it.
/// </remarks>
internal static class CommandRunner
{
    private const int OutputLimit = 4096;
    /// <summary>How long to wait for the output pipes to close after the command exits (a
    /// background child may keep them open).</summary>
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(2);

    public static CommandResult Run(CommandSpec spec, CancellationToken ct)
    {
        var psi = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = spec.WorkingDirectory,
        };
        if (spec.SwitchTo is { } ids)
        {
            psi.FileName = spec.SetprivPath;
            foreach (var a in new[] { $"--reuid={ids.Uid}", $"--regid={ids.Gid}", $"--groups={ids.Gid}", "--" })
                psi.ArgumentList.Add(a);
        }
        var argv = spec.Argv ?? (spec.Shell.Count > 0 ? spec.Shell.Append(spec.Command) : ["/bin/sh", "-c", spec.Command]);
        foreach (var a in argv)
        {
            if (psi.FileName.Length == 0) psi.FileName = a;
            else psi.ArgumentList.Add(a);
        }
        psi.Environment.Clear();
        foreach (var (k, v) in spec.Environment) psi.Environment[k] = v;

        using var proc = new Process { StartInfo = psi };
        try
        {
            proc.Start();
        }
        catch (Exception e) when (e is Win32Exception or IOException or InvalidOperationException)
        {
            // Postfix pipe_command: a failed fork defers ("Delivery failed: %m").
            return new(CommandStatus.Defer, "4.3.0", $"Delivery failed: {e.Message}");
        }

        var output = new BoundedOutput();
        var readers = new[] { output.DrainAsync(proc.StandardOutput.BaseStream), output.DrainAsync(proc.StandardError.BaseStream) };
        Exception? writeError = null;
        var writer = Task.Run(() =>
        {
            try
            {
                using var stdin = proc.StandardInput.BaseStream;
                spec.WriteInput(stdin);
                stdin.Flush();
            }
            catch (IOException)
            {
                // Postfix pipe_command: "the command may stop reading input early, and that
                // should not be considered an error condition" (EPIPE).
            }
            catch (Exception e)
            {
                writeError = e;
            }
        }, CancellationToken.None);

        bool timedOut = !WaitForExit(proc, spec.TimeLimit, ct);
        if (timedOut || ct.IsCancellationRequested)
        {
            // Postfix: kill not just the child but also its offspring.
            try { proc.Kill(entireProcessTree: true); } catch (InvalidOperationException) { /* already gone */ }
            proc.WaitForExit();
        }
        Task.WaitAll([writer, .. readers], DrainLimit);
        ct.ThrowIfCancellationRequested();

        string log = output.Text();
        string tail = log.Length > 0 ? ". Command output: " + log : "";
        // DEVIATION: Postfix pipe_command bounces a command killed by command_time_limit (5.3.0); a
        // hung command is more often a stuck resource (a locked file, a dead server) than a bad
        // recipient, so it is deferred and tried again, as issue 7 asks ("killed, deferred").
        if (timedOut)
            return new(CommandStatus.Defer, "4.3.0", $"Command time limit exceeded: \"{spec.Command}\"{tail}");
        int status = proc.ExitCode;
        // Postfix: "Command died with signal N", deferred. DEVIATION: .NET reports death by
        // signal N as status 128+N and has no WIFSIGNALED, so a command that exits 129..192 by
        // itself is also taken as killed and deferred, never bounced.
        if (status is > 128 and <= 128 + 64)
            return new(CommandStatus.Defer, "4.3.0", $"Command died with signal {status - 128}: \"{spec.Command}\"{tail}");
        if (status != 0)
        {
            if (SysExits.IsSysExit(status))
            {
                var (dsn, text) = SysExits.Detail(status);
                return new(SysExits.IsSoft(status) ? CommandStatus.Defer : CommandStatus.Bounce, dsn, text + tail);
            }
            return new(CommandStatus.Bounce, "5.3.0", $"Command died with status {status}: \"{spec.Command}\"{tail}");
        }
        if (writeError is not null)
            return new(CommandStatus.Defer, "4.3.0", $"Command failed: {writeError.Message}: \"{spec.Command}\"");
        return new(CommandStatus.Ok, "2.0.0", "");
    }

    private static bool WaitForExit(Process proc, TimeSpan limit, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var left = limit - deadline.Elapsed;
            if (left <= TimeSpan.Zero) return proc.HasExited;
            var slice = left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200);
            if (proc.WaitForExit(slice)) return true;
            if (ct.IsCancellationRequested) return true;
        }
    }

    /// <summary>Postfix: output is kept up to a limit, tabs and newlines become spaces and other
    /// unprintable characters underscores.</summary>
    private sealed class BoundedOutput
    {
        private readonly byte[] _buffer = new byte[OutputLimit];
        private int _used;
        private readonly Lock _lock = new();

        public async Task DrainAsync(Stream s)
        {
            var chunk = new byte[4096];
            try
            {
                int n;
                while ((n = await s.ReadAsync(chunk).ConfigureAwait(false)) > 0)
                    lock (_lock)
                    {
                        int take = Math.Min(n, _buffer.Length - _used);
                        chunk.AsSpan(0, take).CopyTo(_buffer.AsSpan(_used));
                        _used += take;
                    }
            }
            catch (IOException) { /* the pipe went away with the process */ }
            catch (ObjectDisposedException) { }
        }

        public string Text()
        {
            lock (_lock)
            {
                var sb = new StringBuilder(_used);
                foreach (char c in Encoding.UTF8.GetString(_buffer, 0, _used))
                    sb.Append(c is '\t' or '\n' ? ' ' : char.IsControl(c) ? '_' : c);
                return sb.ToString().TrimEnd();
            }
        }
    }
}
