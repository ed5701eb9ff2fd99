using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>The real <c>posthorn</c> daemon as a child process, in its own temp config directory on free loopback ports.</summary>
/// <remarks>
/// <see cref="StartAsync(TestConfig?, ITestOutputHelper?)"/> writes main.cf/master.cf/aliases into a fresh
/// directory D, runs <c>posthorn newaliases</c>, starts <c>posthorn postfix -c D start-fg</c> with
/// MAIL_CONFIG=D and returns once the SMTP port answers <c>220 </c>. The daemon's stdout/stderr are
/// captured and go into every failure message (and the test output). Disposing kills whatever is
/// still running for D (also a daemon that <c>postfix start</c> put in the background) and deletes D.
/// </remarks>
public sealed partial class DaemonProcess : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper? _output;
    private readonly StringBuilder _previousRuns = new();
    private Process? _process;
    private OutputPump? _stdout;
    private OutputPump? _stderr;
    private bool _aliasesCompiled;

    private DaemonProcess(TestConfig config, string configDir, ITestOutputHelper? output)
    {
        Config = config;
        ConfigDir = configDir;
        _output = output;
        Executable = PosthornExecutable.Locate();
        PickPorts();
    }

    public TestConfig Config { get; }

    /// <summary>D: holds main.cf, master.cf, aliases, queue/, data/, mail/ (or maildir/), maillog.</summary>
    public string ConfigDir { get; }

    public int SmtpPort { get; private set; }

    /// <summary>The port of the second master.cf row (only with <see cref="TestConfig.SecondListenerBanner"/>).</summary>
    public int? SecondSmtpPort { get; private set; }

    public PosthornExecutable Executable { get; }

    /// <summary>The process id of the foreground daemon this fixture started, while it runs.</summary>
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    public bool IsRunning => Pid is not null;

    /// <summary>Writes the configuration without starting anything (for tests of <c>postfix start</c>, <c>check</c>…).</summary>
    public static DaemonProcess Create(TestConfig? config = null, ITestOutputHelper? output = null)
    {
        var dir = Directory.CreateTempSubdirectory("posthorn-it-");
        var daemon = new DaemonProcess(config ?? TestConfig.Default, dir.FullName, output);
        daemon.WriteConfig();
        return daemon;
    }

    /// <summary>Creates the configuration, lets <paramref name="configure"/> add to it (extra master.cf rows,
    /// a passwd-file, a certificate), and starts the daemon; returns once it greets with 220. The daemon is
    /// disposed if any step fails.</summary>
    public static async Task<DaemonProcess> StartAsync(TestConfig? config = null, ITestOutputHelper? output = null,
        Func<DaemonProcess, Task>? configure = null)
    {
        var daemon = Create(config, output);
        try
        {
            if (configure is not null) await configure(daemon);
            await daemon.StartAsync();
            return daemon;
        }
        catch
        {
            await daemon.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (or restarts) <c>posthorn postfix -c D start-fg</c> and waits until it greets.</summary>
    public async Task StartAsync()
    {
        if (IsRunning) throw new InvalidOperationException("the daemon is already running");
        await CompileAliasesOnceAsync();
        for (int attempt = 1; ; attempt++)
        {
            SpawnForeground();
            if (await WaitUntilReadyAsync()) return;
            // The daemon exited before it greeted. When its port is now held by someone else, a
            // parallel test won the race for it: take fresh ports and try again. Otherwise it is a bug.
            bool portStolen = !FreePort.CanBind(SmtpPort) || (SecondSmtpPort is { } p2 && !FreePort.CanBind(p2));
            if (!portStolen || attempt == 3)
                throw new Xunit.Sdk.XunitException($"posthorn exited with code {_process!.ExitCode} before it accepted SMTP connections{Environment.NewLine}{Diagnostics()}");
            PickPorts();
            WriteConfig();
        }
    }

    /// <summary>Ends the foreground daemon with SIGTERM (as Ctrl-C/systemd would) and returns its exit code.</summary>
    public async Task<int> StopAsync(TimeSpan? timeout = null)
    {
        var p = _process ?? throw new InvalidOperationException("the daemon was not started by this fixture");
        if (!p.HasExited) Unix.Signal(p.Id, Unix.SIGTERM);
        await WaitForExitAsync(p, timeout ?? TimeSpan.FromSeconds(30), "the daemon to exit after SIGTERM");
        return p.ExitCode;
    }

    /// <summary>kill -9: no chance to clean up, as in a crash or power loss of the process.</summary>
    public async Task KillHardAsync()
    {
        var p = _process ?? throw new InvalidOperationException("the daemon was not started by this fixture");
        if (!p.HasExited) Unix.Signal(p.Id, Unix.SIGKILL);
        await WaitForExitAsync(p, TimeSpan.FromSeconds(30), "the daemon to die after SIGKILL");
    }

    /// <summary>Waits until the foreground daemon has exited on its own (e.g. after <c>postfix stop</c>).</summary>
    public Task WaitForExitAsync(TimeSpan timeout) =>
        WaitForExitAsync(_process ?? throw new InvalidOperationException("not started"), timeout, "the daemon to exit");

    /// <summary>Runs <c>posthorn ARGS…</c> with MAIL_CONFIG=D and returns its exit code and output.</summary>
    public Task<ToolResult> RunToolAsync(params string[] args) => RunToolWithInputAsync(null, args);

    /// <summary>As <see cref="RunToolAsync"/>, with <paramref name="stdin"/> as standard input (sendmail).</summary>
    public Task<ToolResult> RunToolWithInputAsync(string? stdin, params string[] args) =>
        ProcessRunner.RunAsync(Executable.FileName, Executable.Arguments(args), ToolTimeout, ChildEnvironment(), stdin, ConfigDir);

    /// <summary>A raw SMTP session to the daemon (the first listener unless <paramref name="port"/> is given),
    /// greeting already read; failures carry the daemon's diagnostics.</summary>
    public Task<RawSmtp> ConnectAsync(int? port = null) => RawSmtp.ConnectAsync(port ?? SmtpPort, readGreeting: true, Diagnostics);

    /// <summary>The daemon's captured output and the tail of the maillog, for failure messages.</summary>
    public string Diagnostics()
    {
        var sb = new StringBuilder();
        sb.Append("--- posthorn config dir: ").Append(ConfigDir).Append(", smtp port ").Append(SmtpPort).Append(" ---\n");
        sb.Append(_previousRuns);
        if (_process is not null)
        {
            string state = _process.HasExited ? $"exited with {_process.ExitCode}" : "running";
            sb.Append($"--- daemon pid {_process.Id} ({state}) stdout ---\n").Append(Tail(_stdout?.Text ?? "", 6000));
            sb.Append("--- daemon stderr ---\n").Append(Tail(_stderr?.Text ?? "", 6000));
        }
        sb.Append("--- maillog (tail) ---\n").Append(Tail(ReadMaillog(), 6000));
        return sb.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
        // A daemon that `postfix start` put in the background is not our child; it still names D.
        foreach (int pid in Unix.ProcessesMentioning(ConfigDir)) Unix.Signal(pid, Unix.SIGKILL);
        try
        {
            _output?.WriteLine(Diagnostics());
        }
        catch (InvalidOperationException)
        {
            // The test has already finished; nowhere left to write.
        }
        _process?.Dispose();
        try
        {
            Directory.Delete(ConfigDir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _output?.WriteLine($"could not delete {ConfigDir}: {e.Message}");
        }
    }

    private void PickPorts()
    {
        SmtpPort = FreePort.Next();
        SecondSmtpPort = Config.HasSecondListener ? FreePort.Next() : null;
    }

    private void WriteConfig() => Config.WriteTo(ConfigDir, SmtpPort, SecondSmtpPort);

    /// <summary>Runs <c>posthorn newaliases</c> once (StartAsync does it; call it yourself before <c>postfix start</c>).</summary>
    public async Task CompileAliasesOnceAsync()
    {
        if (_aliasesCompiled || !Config.CompileAliases) return;
        var r = await RunToolAsync("newaliases");
        if (r.ExitCode != 0) throw new Xunit.Sdk.XunitException($"posthorn newaliases failed before the daemon start:{Environment.NewLine}{r}");
        _aliasesCompiled = true;
    }

    private void SpawnForeground()
    {
        if (_process is not null)
        {
            _previousRuns.Append($"--- earlier daemon run pid {_process.Id} (exit {(_process.HasExited ? _process.ExitCode : -1)}) ---\n")
                .Append(Tail(_stdout?.Text ?? "", 3000)).Append(Tail(_stderr?.Text ?? "", 3000));
            _process.Dispose();
        }
        var psi = ProcessRunner.NewStartInfo(
            Executable.FileName, Executable.Arguments(["postfix", "-c", ConfigDir, "start-fg"]), ChildEnvironment(), ConfigDir);
        var process = new Process { StartInfo = psi };
        process.Start();
        process.StandardInput.Close();
        _process = process;
        _stdout = new OutputPump(process.StandardOutput);
        _stderr = new OutputPump(process.StandardError);
    }

    /// <summary>True once every listener greets with 220; false if the daemon exited first.</summary>
    private async Task<bool> WaitUntilReadyAsync()
    {
        var p = _process!;
        int[] ports = SecondSmtpPort is { } p2 ? [SmtpPort, p2] : [SmtpPort];
        foreach (int port in ports)
        {
            // An imapd/pop3d row greets in its own protocol: accepting is enough there.
            bool smtp = port == SmtpPort || Config.SecondListenerCommand is null;
            await Wait.UntilAsync(async () => p.HasExited || (smtp ? await GreetsAsync(port) : await AcceptsConnectionsAsync(port)), StartTimeout,
                $"posthorn to accept connections on 127.0.0.1:{port}", Diagnostics);
            if (p.HasExited) return false;
        }
        return true;
    }

    /// <summary>True when something accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<bool> AcceptsConnectionsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.ConnectAsync("127.0.0.1", port, cts.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Connects, expects "220 " (after any 220- lines), says QUIT. False while nothing listens.</summary>
    public static async Task<bool> GreetsAsync(int port)
    {
        try
        {
            await using var smtp = await RawSmtp.ConnectAsync(port, readGreeting: false);
            smtp.ReadTimeout = TimeSpan.FromSeconds(10);
            var greeting = await smtp.ReadReplyAsync();
            if (greeting.Code != 220) return false;
            await smtp.SendLineAsync("QUIT");
            await smtp.ReadLineAsync();
            return true;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or Xunit.Sdk.XunitException)
        {
            return false;
        }
    }

    private Dictionary<string, string?> ChildEnvironment()
    {
        var env = new Dictionary<string, string?>(PosthornExecutable.RuntimeEnvironment()) { ["MAIL_CONFIG"] = ConfigDir };
        return env;
    }

    private async Task WaitForExitAsync(Process p, TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new WaitTimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}{Environment.NewLine}{Diagnostics()}");
        }
    }

    private static string Tail(string text, int max)
    {
        string t = text.Length <= max ? text : "…" + text[^max..];
        return t.Length == 0 || t.EndsWith('\n') ? t : t + "\n";
    }
}
