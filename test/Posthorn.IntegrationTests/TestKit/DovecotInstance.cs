using System.Diagnostics;
using System.Net.Sockets;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>A throwaway Dovecot (Debian packages dovecot-core + dovecot-lmtpd) serving LMTP only, from a temp
/// directory V: <c>dovecot -F -c V/dovecot.conf</c> as a child process, stopped on dispose.</summary>
/// <remarks>
/// dovecot.conf: <c>base_dir</c>, <c>state_dir</c> and <c>log_path</c> under V, <c>ssl = no</c>, <c>protocols = lmtp</c>,
/// a passwd-file passdb/userdb (V/users) with one user, <see cref="TestConfig.User"/>, whose home is V/home/USER and
/// <c>mail_location = maildir:~/Maildir</c>; <c>auth_username_format = %Ln</c> so RCPT TO:&lt;user@domain&gt; finds
/// the user by local part. LMTP listens on 127.0.0.1:<see cref="Port"/> and on the socket <see cref="SocketPath"/>.
/// As root Dovecot runs its internal services as its own users (dovecot, dovenull) and stores mail as nobody;
/// as an ordinary user everything runs as that user (no chroot).
/// </remarks>
public sealed class DovecotInstance : IAsyncDisposable
{
    public const string Dovecot = "/usr/sbin/dovecot";
    private const int NobodyId = 65534;

    private readonly Process _process;
    private readonly OutputPump _stdout;
    private readonly OutputPump _stderr;
    private readonly ITestOutputHelper? _output;

    private DovecotInstance(string dir, int port, Process process, ITestOutputHelper? output)
    {
        Directory = dir;
        Port = port;
        _process = process;
        _stdout = new OutputPump(process.StandardOutput);
        _stderr = new OutputPump(process.StandardError);
        _output = output;
    }

    public string Directory { get; }
    public int Port { get; }
    public string SocketPath => Path.Combine(Directory, "lmtp");
    public string LogPath => Path.Combine(Directory, "dovecot.log");

    /// <summary>V/home/USER/Maildir: the user's INBOX.</summary>
    public string MaildirOf(string user) => Path.Combine(Directory, "home", user, "Maildir");

    /// <summary>Null when Dovecot is installed with its LMTP server, else why not (for a <c>NOT RUN:</c> line).</summary>
    public static string? WhyNotAvailable()
    {
        if (!File.Exists(Dovecot)) return $"{Dovecot} is not installed (Debian package \"dovecot-core\")";
        if (!File.Exists("/usr/lib/dovecot/lmtp")) return "Dovecot's LMTP server is not installed (Debian package \"dovecot-lmtpd\")";
        return null;
    }

    public static async Task<DovecotInstance> StartAsync(ITestOutputHelper? output)
    {
        string dir = System.IO.Directory.CreateTempSubdirectory("posthorn-dovecot-").FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        string home = System.IO.Directory.CreateDirectory(Path.Combine(dir, "home")).FullName;
        File.SetUnixFileMode(home, (UnixFileMode)0b1_111_111_111);
        int port = FreePort.Next();
        string user = TestConfig.User;
        bool root = Unix.IsRoot;
        string uidGid = root ? $"{NobodyId}:{NobodyId}" : $"{Unix.EffectiveUid}:{await IdAsync("-g")}";
        File.WriteAllText(Path.Combine(dir, "users"), $"{user}:{{PLAIN}}unused-{Guid.NewGuid():N}:{uidGid}::{home}/{user}::\n");
        string services = root
            ? "default_internal_user = dovecot\ndefault_login_user = dovenull\n"
            : $"default_internal_user = {user}\ndefault_login_user = {user}\ndefault_internal_group = {await IdAsync("-gn")}\n"
              + "service anvil {\n  chroot =\n}\n";
        File.WriteAllText(Path.Combine(dir, "dovecot.conf"), $$"""
            base_dir = {{dir}}/run
            state_dir = {{dir}}/state
            log_path = {{dir}}/dovecot.log
            ssl = no
            protocols = lmtp
            listen = 127.0.0.1
            first_valid_uid = 1
            auth_username_format = %Ln
            mail_location = maildir:~/Maildir
            {{services}}
            passdb {
              driver = passwd-file
              args = {{dir}}/users
            }
            userdb {
              driver = passwd-file
              args = {{dir}}/users
            }
            service lmtp {
              inet_listener lmtp {
                address = 127.0.0.1
                port = {{port}}
              }
              unix_listener {{dir}}/lmtp {
                mode = 0666
              }
            }

            """);
        var psi = ProcessRunner.NewStartInfo(Dovecot, ["-F", "-c", Path.Combine(dir, "dovecot.conf")], null, dir);
        var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var dovecot = new DovecotInstance(dir, port, process, output);
        try
        {
            await Wait.UntilAsync(async () => process.HasExited || await DaemonProcess.AcceptsConnectionsAsync(port),
                TimeSpan.FromSeconds(60), $"Dovecot's LMTP on 127.0.0.1:{port}", dovecot.Diagnostics);
            if (process.HasExited) throw new Xunit.Sdk.XunitException($"dovecot exited with {process.ExitCode}{Environment.NewLine}{dovecot.Diagnostics()}");
            return dovecot;
        }
        catch
        {
            await dovecot.DisposeAsync();
            throw;
        }
    }

    private static async Task<string> IdAsync(string flag)
    {
        var r = await ProcessRunner.RunAsync("id", [flag], TimeSpan.FromSeconds(10));
        return r.Stdout.Trim();
    }

    public string ReadLog() => DaemonProcess.ReadAllShared(LogPath);

    public Task<string> WaitForLogAsync(string contains) =>
        Wait.ForAsync(() => ReadLog().Split('\n').FirstOrDefault(l => l.Contains(contains, StringComparison.Ordinal)),
            DaemonProcess.DeliveryTimeout, $"a Dovecot log line with \"{contains}\"", Diagnostics);

    /// <summary>Waits for a file in the user's Maildir/new that contains <paramref name="token"/>; returns its text.</summary>
    public Task<string> WaitForMaildirAsync(string user, string token) =>
        Wait.ForAsync(() =>
        {
            string dir = Path.Combine(MaildirOf(user), "new");
            return System.IO.Directory.Exists(dir)
                ? System.IO.Directory.EnumerateFiles(dir).Select(DaemonProcess.ReadAllShared).FirstOrDefault(t => t.Contains(token, StringComparison.Ordinal))
                : null;
        }, DaemonProcess.DeliveryTimeout, $"a message with {token} in {MaildirOf(user)}/new", Diagnostics);

    public string Diagnostics() =>
        $"--- Dovecot in {Directory}, LMTP 127.0.0.1:{Port} ---\n--- dovecot stdout/stderr ---\n{_stdout.Text}{_stderr.Text}--- dovecot.log ---\n{ReadLog()}";

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Unix.Signal(_process.Id, Unix.SIGTERM);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        try
        {
            _output?.WriteLine(Diagnostics());
        }
        catch (InvalidOperationException)
        {
            // The test has already finished.
        }
        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _output?.WriteLine($"could not delete {Directory}: {e.Message}");
        }
    }
}
