using System.Text;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>A throwaway instance of the real Postfix from the Debian package, for interoperability tests:
/// its own config_directory, queue_directory, data_directory, mail spool and maillog_file inside one temp
/// directory P, its smtpd on <c>127.0.0.4:PORT</c>, started with <c>postfix -c P/etc start</c> and stopped on dispose.</summary>
/// <remarks>
/// Only root can run it (master(8) starts as root and drops to <c>mail_owner = postfix</c>), so
/// <see cref="WhyNotAvailable"/> names the reason when it cannot run and the tests write <c>NOT RUN: …</c>.
/// main.cf: <c>myhostname = mx.DOMAIN</c>, <c>mydestination = DOMAIN, $myhostname, localhost</c>,
/// <c>mail_spool_directory = P/mail</c> (mode 1777, so local(8) writes each mbox as its recipient), no alias maps,
/// <c>maillog_file = P/maillog</c> (with the postlogd row in master.cf), <c>smtp_bind_address = 127.0.0.4</c>,
/// <c>smtp_host_lookup = native</c> (its next hops are <c>[ip]:port</c>; it asks no DNS).
/// inet_interfaces stays <c>loopback-only</c>: Postfix insists each of those is an interface address, and the
/// master.cf row names 127.0.0.4 itself.
/// </remarks>
public sealed class PostfixInstance : IAsyncDisposable
{
    public const string Postfix = "/usr/sbin/postfix";
    public const string Address = "127.0.0.4";
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper? _output;

    private PostfixInstance(string dir, string domain, int port, ITestOutputHelper? output)
    {
        Directory = dir;
        Domain = domain;
        Port = port;
        _output = output;
    }

    /// <summary>P: holds etc/ (main.cf, master.cf), queue/, data/, mail/, maillog.</summary>
    public string Directory { get; }
    public string ConfigDirectory => Path.Combine(Directory, "etc");
    public string MaillogPath => Path.Combine(Directory, "maillog");
    public string Domain { get; }
    public string Myhostname => "mx." + Domain;

    /// <summary>smtpd's port on <see cref="Address"/>.</summary>
    public int Port { get; }

    /// <summary>Null when a Postfix instance can run here, else why not (for a <c>NOT RUN:</c> line).</summary>
    public static string? WhyNotAvailable()
    {
        if (!File.Exists(Postfix)) return $"{Postfix} is not installed (Debian package \"postfix\")";
        if (!File.Exists("/usr/lib/postfix/sbin/master")) return "Postfix's master(8) is not in /usr/lib/postfix/sbin";
        if (!Unix.IsRoot) return "running a Postfix instance needs root (master(8) starts as root)";
        return null;
    }

    /// <summary>Writes the configuration, lets <paramref name="extraMainCf"/> add main.cf lines, starts Postfix
    /// and returns once its smtpd greets.</summary>
    public static async Task<PostfixInstance> StartAsync(string domain, string extraMainCf, ITestOutputHelper? output)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("posthorn-realpostfix-").FullName;
        var pf = new PostfixInstance(dir, domain, FreePort.Next(), output);
        try
        {
            pf.WriteConfig(extraMainCf);
            var start = await pf.RunPostfixAsync("start");
            if (start.ExitCode != 0) throw new Xunit.Sdk.XunitException($"postfix start failed:{Environment.NewLine}{start}{Environment.NewLine}{pf.Diagnostics()}");
            await Wait.UntilAsync(() => Greets(pf.Port), TimeSpan.FromSeconds(60), $"Postfix's smtpd on {Address}:{pf.Port}", pf.Diagnostics);
            return pf;
        }
        catch
        {
            await pf.DisposeAsync();
            throw;
        }
    }

    private void WriteConfig(string extraMainCf)
    {
        File.SetUnixFileMode(Directory, (UnixFileMode)0b111_101_101);   // 0755: mail_owner must reach queue/
        System.IO.Directory.CreateDirectory(ConfigDirectory);
        // queue/ and data/ (owned by mail_owner) are made by postfix start (post-install create-missing).
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "queue"));
        string mail = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "mail")).FullName;
        File.SetUnixFileMode(mail, (UnixFileMode)0b1_111_111_111);   // 1777, as /var/mail with a world-writable spool
        var main = new StringBuilder($"""
            compatibility_level = 3.6
            queue_directory = {Directory}/queue
            data_directory = {Directory}/data
            mail_owner = postfix
            setgid_group = postdrop
            myhostname = {Myhostname}
            mydomain = {Domain}
            myorigin = $mydomain
            mydestination = {Domain}, $myhostname, localhost
            inet_interfaces = loopback-only
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            mail_spool_directory = {mail}
            alias_maps =
            alias_database =
            biff = no
            maillog_file = {MaillogPath}
            maillog_file_prefixes = {Directory}
            smtp_bind_address = {Address}
            smtp_host_lookup = native

            """);
        main.Append(extraMainCf).Append('\n');
        File.WriteAllText(Path.Combine(ConfigDirectory, "main.cf"), main.ToString());
        // master(5): Postfix's standard services, nothing chrooted, smtpd on 127.0.0.4:PORT only.
        File.WriteAllText(Path.Combine(ConfigDirectory, "master.cf"), $"""
            {Address}:{Port} inet n - n - - smtpd
            pickup    unix  n - n 60 1 pickup
            cleanup   unix  n - n - 0 cleanup
            qmgr      unix  n - n 300 1 qmgr
            tlsmgr    unix  - - n 1000? 1 tlsmgr
            rewrite   unix  - - n - - trivial-rewrite
            bounce    unix  - - n - 0 bounce
            defer     unix  - - n - 0 bounce
            trace     unix  - - n - 0 bounce
            verify    unix  - - n - 1 verify
            flush     unix  n - n 1000? 0 flush
            proxymap  unix  - - n - - proxymap
            proxywrite unix - - n - 1 proxymap
            smtp      unix  - - n - - smtp
            relay     unix  - - n - - smtp
            showq     unix  n - n - - showq
            error     unix  - - n - - error
            retry     unix  - - n - - error
            discard   unix  - - n - - discard
            local     unix  - n n - - local
            virtual   unix  - n n - - virtual
            lmtp      unix  - - n - - lmtp
            anvil     unix  - - n - 1 anvil
            scache    unix  - - n - 1 scache
            postlog   unix-dgram n - n - 1 postlogd

            """);
    }

    /// <summary>The mbox of <paramref name="user"/> in P/mail.</summary>
    public string MboxOf(string user) => Path.Combine(Directory, "mail", user);

    public string ReadMaillog() => DaemonProcess.ReadAllShared(MaillogPath);

    public IReadOnlyList<string> MaillogLines()
    {
        string text = ReadMaillog();
        int end = text.LastIndexOf('\n');
        return end < 0 ? [] : text[..end].Split('\n');
    }

    public Task<string> WaitForLogAsync(Func<string, bool> match, string what) =>
        Wait.ForAsync(() => MaillogLines().FirstOrDefault(match), DaemonProcess.DeliveryTimeout, $"a Postfix maillog line with {what}", Diagnostics);

    /// <summary>Runs <c>postfix -c P/etc ARGS…</c> (start, stop, flush).</summary>
    public Task<ToolResult> RunPostfixAsync(params string[] args) =>
        ProcessRunner.RunAsync(Postfix, ["-c", ConfigDirectory, .. args], CommandTimeout);

    /// <summary>Runs another Postfix command (postqueue, postsuper) against this instance with <c>-c P/etc</c>.</summary>
    public Task<ToolResult> RunCommandAsync(string command, params string[] args) =>
        ProcessRunner.RunAsync(Path.Combine("/usr/sbin", command), ["-c", ConfigDirectory, .. args], CommandTimeout);

    public string Diagnostics()
    {
        string log = ReadMaillog();
        return $"--- real Postfix in {Directory}, smtpd {Address}:{Port} ---\n--- main.cf ---\n"
            + DaemonProcess.ReadAllShared(Path.Combine(ConfigDirectory, "main.cf"))
            + "--- Postfix maillog (tail) ---\n" + (log.Length > 6000 ? "…" + log[^6000..] : log);
    }

    private static Task<bool> Greets(int port) => Task.Run(async () =>
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.ConnectAsync(System.Net.IPAddress.Parse(Address), port, cts.Token);
            using var reader = new StreamReader(client.GetStream());
            string? line = await reader.ReadLineAsync(cts.Token);
            return line is not null && line.StartsWith("220 ", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    });

    /// <summary>master(8)'s pid from its "daemon started" line (its pid file is locked while it runs).</summary>
    private int? MasterPid() =>
        LogLine.Find(MaillogLines(), "master", t => t.StartsWith("daemon started", StringComparison.Ordinal)).LastOrDefault()?.Pid;

    public async ValueTask DisposeAsync()
    {
        int? master = MasterPid();
        try
        {
            await RunPostfixAsync("stop");
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            _output?.WriteLine($"postfix stop: {e.Message}");
        }
        // postfix stop signals master(8) and returns; make sure it is gone before its files are.
        if (master is { } pid)
        {
            try
            {
                await Wait.UntilAsync(() => !System.IO.Directory.Exists($"/proc/{pid}"), TimeSpan.FromSeconds(20), $"Postfix master {pid} to exit");
            }
            catch (WaitTimeoutException)
            {
                Unix.Signal(pid, Unix.SIGKILL);
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
