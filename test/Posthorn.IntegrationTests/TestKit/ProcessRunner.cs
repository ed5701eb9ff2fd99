using System.Diagnostics;
using System.Text;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>What a finished command printed and returned.</summary>
public sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>stdout then stderr, for messages a tool may print on either (Postfix tools use stderr for most).</summary>
    public string Output => Stdout + Stderr;

    public override string ToString() =>
        $"exit={ExitCode}{Environment.NewLine}--- stdout ---{Environment.NewLine}{Stdout}--- stderr ---{Environment.NewLine}{Stderr}";
}

/// <summary>Runs a command to completion with a timeout, capturing its output.</summary>
/// <remarks>
/// Output is pumped into buffers as it arrives rather than read to EOF: a command that starts a
/// background daemon (<c>postfix start</c>) may leave the daemon holding our pipes, so after the
/// command exits we wait only a short grace period for the rest of its output.
/// </remarks>
public static class ProcessRunner
{
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(2);

    public static async Task<ToolResult> RunAsync(
        string fileName, IEnumerable<string> args, TimeSpan timeout,
        IReadOnlyDictionary<string, string?>? environment = null, string? stdin = null, string? workingDirectory = null,
        bool keepStdinOpen = false)
    {
        var psi = NewStartInfo(fileName, args, environment, workingDirectory);
        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run {fileName}: {e.Message}", e);
        }

        var stdout = new OutputPump(process.StandardOutput);
        var stderr = new OutputPump(process.StandardError);
        try
        {
            if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
            // keepStdinOpen: like a terminal nobody types into (script(1) forwards EOF to its child).
            if (keepStdinOpen) await process.StandardInput.FlushAsync();
            else process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The command exited without reading its input; its exit code tells the story.
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException(
                $"{Describe(fileName, args)} did not finish within {timeout.TotalSeconds:0} s{Environment.NewLine}" +
                $"--- stdout ---{Environment.NewLine}{stdout.Text}--- stderr ---{Environment.NewLine}{stderr.Text}");
        }
        await Task.WhenAny(Task.WhenAll(stdout.Completion, stderr.Completion), Task.Delay(DrainGrace));
        return new ToolResult(process.ExitCode, stdout.Text, stderr.Text);
    }

    public static ProcessStartInfo NewStartInfo(
        string fileName, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment, string? workingDirectory)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // No byte-order mark: a child reading a terminal (mutt under script) would take it for keystrokes.
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (environment is not null)
            foreach (var (name, value) in environment)
            {
                if (value is null) psi.Environment.Remove(name);
                else psi.Environment[name] = value;
            }
        return psi;
    }

    public static string Describe(string fileName, IEnumerable<string> args) =>
        string.Join(' ', new[] { fileName }.Concat(args).Select(a => a.Contains(' ') ? $"'{a}'" : a));
}

/// <summary>Copies a child's output stream into a buffer as it arrives; <see cref="Text"/> is a snapshot.</summary>
public sealed class OutputPump
{
    private const int MaxChars = 1 << 20;
    private readonly StringBuilder _text = new();

    public OutputPump(StreamReader reader) => Completion = PumpAsync(reader);

    public Task Completion { get; }

    public string Text
    {
        get { lock (_text) return _text.ToString(); }
    }

    private async Task PumpAsync(StreamReader reader)
    {
        var buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer.AsMemory())) > 0)
        {
            lock (_text)
            {
                // Keep the head and cap the size: a runaway child must not exhaust the test host.
                if (_text.Length < MaxChars) _text.Append(buffer, 0, Math.Min(n, MaxChars - _text.Length));
            }
        }
    }
}
