using System.Net;
using System.Net.Sockets;
using System.Text;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests.KitSelfTests;

/// <summary>The test kit checks itself, without the daemon: a broken harness must not pass or fail tests for it.</summary>
public sealed class TestKitTests
{
    [Fact]
    public void Free_ports_are_distinct_bindable_and_below_the_ephemeral_range()
    {
        var ports = Enumerable.Range(0, 20).Select(_ => FreePort.Next()).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, p => Assert.InRange(p, 1024, FreePort.EphemeralLow - 1));
        Assert.All(ports, p => Assert.True(FreePort.CanBind(p), $"port {p} is not bindable"));
    }

    [Fact]
    public void A_port_with_a_listener_is_not_free()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            Assert.False(FreePort.CanBind(((IPEndPoint)listener.LocalEndpoint).Port));
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public void Config_writer_puts_every_path_inside_the_config_directory()
    {
        var dir = Directory.CreateTempSubdirectory("posthorn-kit-");
        try
        {
            var cfg = TestConfig.Default.With("message_size_limit", "2000").With("mynetworks", "192.0.2.0/24");
            cfg.WriteTo(dir.FullName, 12345, null);
            string main = File.ReadAllText(Path.Combine(dir.FullName, "main.cf"));
            string D = dir.FullName;
            string[] expected =
            [
                TestConfig.MainCfComment, "",
                "myhostname = mail.example.test", "mydomain = example.test", "myorigin = $mydomain",
                "mydestination = $myhostname, localhost.$mydomain, localhost", "inet_interfaces = loopback-only",
                "mynetworks = 192.0.2.0/24",
                $"queue_directory = {D}/queue", $"data_directory = {D}/data", $"mail_spool_directory = {D}/mail",
                $"maillog_file = {D}/maillog", $"alias_maps = hash:{D}/aliases", $"alias_database = hash:{D}/aliases",
                $"mail_owner = {Environment.UserName}", "posthorn_dns_servers = 127.0.0.1:9", "message_size_limit = 2000", "",
            ];
            Assert.Equal(expected, main.Split('\n'));
            Assert.Equal("# service type  private unpriv  chroot  wakeup  maxproc command + args\n127.0.0.1:12345 inet n - n - - smtpd\n",
                File.ReadAllText(Path.Combine(D, "master.cf")));
            Assert.Contains("postmaster: root", File.ReadAllLines(Path.Combine(D, "aliases")));
            Assert.True(Directory.Exists(Path.Combine(D, "queue")) && Directory.Exists(Path.Combine(D, "data")) && Directory.Exists(Path.Combine(D, "mail")));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Config_writer_adds_the_second_listener_and_the_maildir_spool()
    {
        var cfg = TestConfig.Default with { SecondListenerBanner = "second.example.test", SpoolMaildir = true };
        Assert.Equal(
            "# service type  private unpriv  chroot  wakeup  maxproc command + args\n" +
            "127.0.0.1:2525 inet n - n - - smtpd\n127.0.0.1:2526 inet n - n - - smtpd\n  -o smtpd_banner=second.example.test\n",
            cfg.MasterCfText(2525, 2526));
        Assert.Contains(new KeyValuePair<string, string>("mail_spool_directory", "/D/maildir/"), cfg.MainCfEntries("/D"));
    }

    [Fact]
    public async Task Wait_returns_when_the_condition_holds()
    {
        int calls = 0;
        await Wait.UntilAsync(() => ++calls >= 3, TimeSpan.FromSeconds(10), "three calls");
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Wait_times_out_naming_what_it_waited_for()
    {
        var e = await Assert.ThrowsAsync<WaitTimeoutException>(() =>
            Wait.UntilAsync(() => false, TimeSpan.FromMilliseconds(200), "the impossible", () => "extra context"));
        Assert.Contains("the impossible", e.Message);
        Assert.Contains("extra context", e.Message);
    }

    [Fact]
    public async Task Process_runner_captures_exit_code_stdout_stderr_and_stdin()
    {
        var r = await ProcessRunner.RunAsync("sh", ["-c", "read x; echo \"out:$x\"; echo err >&2; exit 3"], TimeSpan.FromSeconds(30), stdin: "hello\n");
        Assert.Equal(new ToolResult(3, "out:hello\n", "err\n"), r);
    }

    [Fact]
    public async Task Process_runner_kills_a_command_that_overruns_its_timeout()
    {
        var e = await Assert.ThrowsAsync<TimeoutException>(() =>
            ProcessRunner.RunAsync("sh", ["-c", "echo started; sleep 30"], TimeSpan.FromMilliseconds(1500)));
        Assert.Contains("started", e.Message);
    }

    [Fact]
    public async Task Process_runner_returns_although_a_background_child_keeps_the_pipes_open()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var r = await ProcessRunner.RunAsync("sh", ["-c", "sleep 20 & echo $!; exit 0"], TimeSpan.FromSeconds(15));
        Assert.Equal(0, r.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(12), $"took {clock.Elapsed}");
        Unix.Signal(int.Parse(r.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture), Unix.SIGKILL);
    }

    [Fact]
    public void A_missing_external_tool_fails_with_the_install_command()
    {
        var e = Assert.ThrowsAny<Exception>(() => ExternalTool.Require("no-such-tool-xyz", "no-such-package"));
        Assert.Equal("no-such-tool-xyz is not installed: install no-such-package (apt-get install no-such-package)", e.Message);
    }

    [Fact]
    public void The_posthorn_executable_is_next_to_the_tests()
    {
        var exe = PosthornExecutable.Locate();
        Assert.True(File.Exists(exe.FileName), exe.FileName);
    }

    [Fact]
    public void Mbox_parser_splits_messages_unfolds_headers_and_keeps_quoted_from()
    {
        string mbox =
            "From a@b.example  Mon Nov 25 13:17:08 2024\nReturn-Path: <a@b.example>\nSubject: one\n two\n\nbody 1\n>From here\n\n" +
            "From c@d.example  Mon Nov 25 13:17:09 2024\nSubject: second\n\nbody 2\n\n";
        var messages = Mbox.Parse(mbox);
        Assert.Equal(2, messages.Count);
        Assert.Equal("From a@b.example  Mon Nov 25 13:17:08 2024", messages[0].FromLine);
        Assert.Equal("one two", messages[0].Header("subject"));
        Assert.Equal("<a@b.example>", messages[0].Header("Return-Path"));
        Assert.Equal(["body 1", ">From here"], messages[0].BodyLines);
        Assert.Equal(["body 2"], messages[1].BodyLines);
    }

    [Fact]
    public void Log_lines_parse_in_syslog_format()
    {
        var l = LogLine.TryParse("Nov  5 13:17:08 mail postfix/smtpd[123]: connect from localhost[127.0.0.1]");
        Assert.Equal(new LogLine("Nov  5 13:17:08", "mail", "postfix", "smtpd", 123, "connect from localhost[127.0.0.1]"), l);
        Assert.Null(LogLine.TryParse("connect from localhost[127.0.0.1]"));
    }

    [Fact]
    public void Terminal_controls_are_stripped_from_a_screen_capture()
    {
        Assert.Equal("\nMUTTIDX <a@b> [s] END", Mutt.StripTerminalControls("\x1B[?1049h\x1B(B\x1B[0;7m\r\x1B=MUTTIDX <a@b> [s] END\x1B[K"));
    }

    [Fact]
    public async Task Raw_client_sends_exact_bytes_and_reads_multiline_replies()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var received = new MemoryStream();
        var server = Task.Run(async () =>
        {
            using var peer = await listener.AcceptTcpClientAsync();
            var s = peer.GetStream();
            await s.WriteAsync("220 fake ESMTP\r\n"u8.ToArray());
            var buf = new byte[256];
            // Read until the client's second line (bare LF) has arrived.
            while (received.ToArray().Count(b => b == '\n') < 2)
            {
                int n = await s.ReadAsync(buf);
                if (n == 0) break;
                received.Write(buf, 0, n);
            }
            await s.WriteAsync("250-fake.example\r\n250-PIPELINING\n250 SIZE 2000\r\n"u8.ToArray());
        });
        await using (var smtp = await RawSmtp.ConnectAsync(port))
        {
            Assert.Equal("220 fake ESMTP", smtp.Greeting!.Last);
            await smtp.SendLineAsync("EHLO a");
            smtp.LineEnding = "\n";
            await smtp.SendLineAsync("NOOP");
            var ehlo = await smtp.ReadReplyAsync();
            Assert.Equal(250, ehlo.Code);
            Assert.Equal(["fake.example", "PIPELINING", "SIZE 2000"], ehlo.Texts);
            Assert.True(await smtp.IsClosedByServerAsync());
        }
        await server;
        listener.Stop();
        Assert.Equal("EHLO a\r\nNOOP\n", Encoding.ASCII.GetString(received.ToArray()));
    }

    [Fact]
    public async Task Mutt_driver_reads_a_handmade_mbox()
    {
        var dir = Directory.CreateTempSubdirectory("posthorn-kit-");
        try
        {
            string mbox = Path.Combine(dir.FullName, "mbox");
            File.WriteAllText(mbox,
                "From alice@sender.example  Mon Nov 25 13:17:08 2024\nFrom: Alice Example <alice@sender.example>\n" +
                "Subject: kit check\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n" +
                "Content-Transfer-Encoding: quoted-printable\n\nBody =41=42=43\n\n");
            var view = await Mutt.ReadFirstMessageAsync(mbox, dir.FullName);
            Assert.Contains(MuttView.IndexLine("alice@sender.example", "kit check"), view.Screen);
            Assert.Contains(MuttView.StatusLine(1), view.Screen);
            Assert.Contains("Body ABC", view.Decoded);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
