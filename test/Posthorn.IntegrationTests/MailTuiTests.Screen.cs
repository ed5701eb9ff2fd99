using System.Text;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>The tmux screen and the temporary directory the full-screen tests run in (also used by
/// <see cref="MailTwoUsersTests"/>).</summary>
public sealed partial class MailTuiTests
{
    /// <summary>A temporary directory with a main.cf the mail command can read (its mailbox comes from -f).</summary>
    internal sealed class TempDir : IDisposable
    {
        private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-tui-");

        public TempDir()
        {
            Directory.CreateDirectory(System.IO.Path.Combine(Path, "cfg"));
            Write("cfg/main.cf", $"queue_directory = {Path}/queue\nmail_spool_directory = {Path}/mail\n");
        }

        public string Path => _dir.FullName;

        public string Write(string name, string text)
        {
            string path = System.IO.Path.Combine(Path, name);
            File.WriteAllText(path, text);
            return path;
        }

        public void Dispose() => _dir.Delete(recursive: true);
    }

    /// <summary>One tmux server on its own socket, running one <c>posthorn</c> command in a 120×40 pane.
    /// The command's exit status is printed as "[posthorn exited N]" and the pane stays open so it can be read.</summary>
    internal sealed class TmuxScreen : IAsyncDisposable
    {
        private readonly string _tmux;
        private readonly string _socket = "posthorn-tui-" + Guid.NewGuid().ToString("N")[..12];
        private readonly ITestOutputHelper _output;
        private string _socketPath = "";
        private static readonly Dictionary<string, string?> Utf8 = new() { ["LANG"] = "C.UTF-8", ["LC_ALL"] = "C.UTF-8" };

        private TmuxScreen(string tmux, ITestOutputHelper output) => (_tmux, _output) = (tmux, output);

        /// <summary>The screen at the last capture.</summary>
        public string Last { get; private set; } = "";

        /// <summary>Starts the session; null (and a SKIPPED line in the output) when tmux is not installed.</summary>
        public static async Task<TmuxScreen?> StartAsync(ITestOutputHelper output, TempDir dir, string[] args, Dictionary<string, string?>? env = null)
        {
            string? tmux = new[] { "/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux" }.FirstOrDefault(File.Exists);
            if (tmux is null)
            {
                output.WriteLine("SKIPPED: tmux is not installed (apt-get install tmux); the full-screen test did not run.");
                return null;
            }
            var exe = PosthornExecutable.Locate();
            var vars = new Dictionary<string, string?>(PosthornExecutable.RuntimeEnvironment())
            {
                ["MAIL_CONFIG"] = Path.Combine(dir.Path, "cfg"),
                ["LANG"] = "C.UTF-8",
                ["HOME"] = dir.Path,
            };
            foreach (var (k, v) in env ?? []) vars[k] = v;
            var script = new StringBuilder("#!/bin/sh\n");
            foreach (var (k, v) in vars) if (v is not null) script.Append($"export {k}={Quote(v)}\n");
            script.Append(string.Join(' ', new[] { exe.FileName }.Concat(exe.Arguments(args)).Select(Quote))).Append('\n');
            script.Append("echo \"[posthorn exited $?]\"\n");
            // Keeps the pane (and the last screen) after the command ended; the server is killed at the end of the test.
            script.Append("exec sleep 600\n");
            string run = dir.Write("run.sh", script.ToString());

            var screen = new TmuxScreen(tmux, output);
            var started = await screen.TmuxAsync("-f", "/dev/null", "new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", "sh " + Quote(run));
            if (started.ExitCode != 0)
            {
                await screen.DisposeAsync();
                throw new InvalidOperationException("tmux new-session failed: " + started);
            }
            var where = await screen.TmuxAsync("display-message", "-p", "-t", "tui", "#{socket_path}");
            screen._socketPath = where.Stdout.Trim();
            return screen;
        }

        private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

        private Task<ToolResult> TmuxAsync(params string[] args) =>
            ProcessRunner.RunAsync(_tmux, new[] { "-u", "-L", _socket }.Concat(args), TimeSpan.FromSeconds(20), Utf8);

        /// <summary>Sends tmux key names ("Enter", "j", "$"), one send-keys each.</summary>
        public async Task KeysAsync(params string[] keys)
        {
            foreach (string k in keys)
            {
                var r = await TmuxAsync("send-keys", "-t", "tui", k);
                Assert.True(r.ExitCode == 0, r.ToString());
            }
        }

        /// <summary>Polls capture-pane until <paramref name="ready"/> holds for the screen, or fails showing it.</summary>
        public async Task WaitForAsync(string what, Func<string, bool> ready)
        {
            await Wait.UntilAsync(async () =>
            {
                var r = await TmuxAsync("capture-pane", "-p", "-t", "tui");
                if (r.ExitCode == 0) Last = r.Stdout;
                return ready(Last);
            }, ScreenTimeout, what, () => "--- screen ---\n" + Last);
            _output.WriteLine($"--- screen: {what} ---\n{Last.TrimEnd()}");
        }

        public async ValueTask DisposeAsync()
        {
            var r = await TmuxAsync("kill-server");
            if (r.ExitCode != 0) _output.WriteLine("tmux kill-server: " + r);
            // The server leaves its socket file behind in /tmp/tmux-UID.
            if (_socketPath.EndsWith(_socket, StringComparison.Ordinal)) File.Delete(_socketPath);
        }
    }
}
