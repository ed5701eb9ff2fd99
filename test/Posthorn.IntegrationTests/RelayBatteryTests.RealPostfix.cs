using Posthorn.IntegrationTests.TestKit;
using Xunit.Abstractions;

namespace Posthorn.IntegrationTests;

public sealed partial class RelayBatteryTests
{
    /// <summary>A throwaway instance of the machine's real Postfix (Debian's postfix package): its own
    /// config_directory, queue_directory and data_directory in a temp directory, smtpd on 127.0.0.1 and a free
    /// port, maillog_file in the temp directory. Stopped with <c>postfix -c DIR stop</c> on dispose.</summary>
    private sealed class RealPostfix : IAsyncDisposable
    {
        private const string Postfix = "/usr/sbin/postfix";
        private const string StockMasterCf = "/etc/postfix/master.cf";
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

        private readonly string _dir;
        private readonly ITestOutputHelper _output;

        private RealPostfix(string dir, int port, ITestOutputHelper output)
        {
            _dir = dir;
            Port = port;
            _output = output;
        }

        public int Port { get; }

        private string ConfigDir => Path.Combine(_dir, "etc");

        /// <summary>Why the real Postfix cannot run here, or null when it can.</summary>
        public static string? WhyNot()
        {
            if (!File.Exists(Postfix)) return $"{Postfix} is not installed (Debian package postfix)";
            if (!Environment.IsPrivilegedProcess) return "the real Postfix needs root to start its master";
            if (!File.Exists(StockMasterCf)) return $"{StockMasterCf} is missing";
            return null;
        }

        public static async Task<RealPostfix> StartAsync(ITestOutputHelper output, string mainCf)
        {
            string dir = Directory.CreateTempSubdirectory("posthorn-realpostfix-").FullName;
            var pf = new RealPostfix(dir, FreePort.Next(), output);
            try
            {
                await pf.StartAsync(mainCf);
                return pf;
            }
            catch
            {
                await pf.DisposeAsync();
                throw;
            }
        }

        private async Task StartAsync(string mainCf)
        {
            foreach (string sub in new[] { "etc", "spool", "data" })
                Directory.CreateDirectory(Path.Combine(_dir, sub));
            // Postfix's master takes its lock file in data_directory as mail_owner, who must reach it: the temp
            // directory is made 0700.
            File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            // Postfix's master takes its lock file in data_directory as mail_owner.
            var chown = await ProcessRunner.RunAsync("chown", ["postfix", Path.Combine(_dir, "data")], Timeout);
            if (chown.ExitCode != 0) throw new InvalidOperationException($"chown failed: {chown}");
            File.WriteAllText(Path.Combine(ConfigDir, "main.cf"), $"""
                compatibility_level = 3.6
                queue_directory = {_dir}/spool
                data_directory = {_dir}/data
                maillog_file_prefixes = {_dir}
                maillog_file = {_dir}/maillog
                inet_interfaces = 127.0.0.1
                inet_protocols = ipv4
                alias_maps =
                alias_database =
                {mainCf}

                """);
            // The stock master.cf with its smtp inet row moved to 127.0.0.1:PORT (the postlog row stays for maillog_file).
            var rows = File.ReadAllLines(StockMasterCf).Select(line =>
                line.Split((char[])[' ', '\t'], 3, StringSplitOptions.RemoveEmptyEntries) is [ "smtp", "inet", _ ]
                    ? $"127.0.0.1:{Port} inet n - n - - smtpd" : line);
            File.WriteAllLines(Path.Combine(ConfigDir, "master.cf"), rows);
            var start = await ProcessRunner.RunAsync(Postfix, ["-c", ConfigDir, "start"], Timeout);
            if (start.ExitCode != 0)
                throw new InvalidOperationException($"postfix start failed: {start}\n{Maillog()}");
            var deadline = DateTime.UtcNow + Timeout;
            while (!await DaemonProcess.AcceptsConnectionsAsync(Port))
            {
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"the real Postfix did not listen on 127.0.0.1:{Port}\n{Maillog()}");
                await Task.Delay(200);
            }
        }

        private string Maillog()
        {
            string path = Path.Combine(_dir, "maillog");
            return File.Exists(path) ? File.ReadAllText(path) : "(no maillog)";
        }

        public async ValueTask DisposeAsync()
        {
            if (File.Exists(Path.Combine(ConfigDir, "main.cf")))
            {
                var stop = await ProcessRunner.RunAsync(Postfix, ["-c", ConfigDir, "stop"], Timeout);
                _output.WriteLine($"postfix -c {ConfigDir} stop: exit {stop.ExitCode}");
                _output.WriteLine("--- real Postfix maillog ---\n" + Maillog());
            }
            Directory.Delete(_dir, recursive: true);
        }
    }
}
