using System.Net.Sockets;
using System.Text;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>Bad input over IMAP against the real daemon (issue 8, "Bad input"): mailbox names that would leave the
/// Maildir or are malformed, an idle client, a client that never reads what it asked for, and a user who reaches for
/// another user's mail. Each gets Dovecot's answer, is logged, and the daemon keeps serving others.</summary>
public sealed class ImapHostileTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private const string Password = "s3cret-pass";
    private const string Other = "otheruser";

    private static TestConfig Config(params (string Name, string Value)[] settings)
    {
        var c = (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = "imapd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");
        foreach (var (name, value) in settings) c = c.With(name, value);
        return c;
    }

    private static string Maildir(DaemonProcess d, string user) => Path.Combine(d.ConfigDir, "maildir", user);

    private static void WritePasswd(DaemonProcess d) =>
        File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"),
            $"{User}:{{PLAIN}}{Password}::::{Maildir(d, User)}::\n{Other}:{{PLAIN}}other-pass::::{Maildir(d, Other)}::\n");

    /// <summary>A client as nc is: raw lines, one tag per command.</summary>
    private sealed class Raw : IAsyncDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private readonly StreamReader _reader;
        private int _tag;

        private Raw(TcpClient tcp)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
            _reader = new StreamReader(_stream, Encoding.Latin1);
        }

        public static async Task<Raw> LoginAsync(DaemonProcess d, string user = "", string password = Password, int receiveBuffer = 0)
        {
            var tcp = new TcpClient();
            if (receiveBuffer > 0) tcp.ReceiveBufferSize = receiveBuffer;
            await tcp.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value);
            var raw = new Raw(tcp);
            Assert.StartsWith("* OK", await raw.ReadLineAsync());
            Assert.Contains(" OK", await raw.SendAsync($"LOGIN {(user.Length == 0 ? User : user)} {password}"));
            return raw;
        }

        public Task<string?> ReadLineAsync() => _reader.ReadLineAsync();

        public Task WriteAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

        /// <summary>Sends one command (raw bytes allowed); every line up to and including the tagged one.</summary>
        public async Task<string> SendAsync(string command, byte[]? rawArgument = null)
        {
            string tag = "h" + ++_tag;
            await WriteAsync([.. Encoding.ASCII.GetBytes(tag + " " + command), .. rawArgument ?? [], .. "\r\n"u8.ToArray()]);
            var sb = new StringBuilder();
            while (await _reader.ReadLineAsync() is { } line)
            {
                sb.Append(line).Append('\n');
                if (line.StartsWith(tag + " ", StringComparison.Ordinal)) return sb.ToString();
            }
            throw new IOException("connection closed: " + sb);
        }

        public ValueTask DisposeAsync()
        {
            _tcp.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private static string Short(string s) => s.Length > 60 ? s[..60] + "…" : s;

    [Fact]
    public async Task Mailbox_names_that_leave_the_Maildir_or_are_malformed_are_refused_and_the_session_goes_on()
    {
        await using var d = await DaemonProcess.StartAsync(Config(), output);
        WritePasswd(d);
        await using var c = await Raw.LoginAsync(d);
        string deep = string.Join('.', Enumerable.Repeat("x", 1000));
        string[] names = ["\"..\"", "\"a..b\"", "\"../x\"", "\"a/b\"", "\"~root\"", "\"&AGE-\"" /* overlong modified UTF-7 for "a" */,
            "\"&Jjo\"" /* unterminated modified UTF-7 */, $"\"{deep}\""];
        foreach (var name in names)
        {
            string reply = await c.SendAsync("CREATE " + name);
            output.WriteLine($"CREATE {Short(name)} -> {Short(reply.TrimEnd())}");
            Assert.Matches(@"^h\d+ (NO|BAD) ", reply.Split('\n')[^2]);
        }
        // NUL in a literal, and an overlong UTF-8 sequence for "/" (0xC0 0xAF), as raw bytes.
        foreach (var bytes in new[] { "a\0b"u8.ToArray(), new byte[] { (byte)'a', 0xC0, 0xAF, (byte)'b' } })
        {
            string reply = await c.SendAsync($"CREATE {{{bytes.Length}+}}\r\n", bytes);
            Assert.Matches(@"^h\d+ (NO|BAD) ", reply.Split('\n')[^2]);
        }
        // Nothing was made outside the Maildir or inside it, and the session still works.
        string root = Path.Combine(d.ConfigDir, "maildir");
        Assert.True(!Directory.Exists(root) || Directory.GetFileSystemEntries(root).All(e => Path.GetFileName(e) == User));
        Assert.True(!Directory.Exists(Maildir(d, User)) || Directory.GetDirectories(Maildir(d, User), ".*").Length == 0);
        Assert.Contains(" OK", await c.SendAsync("CREATE Projects"));
        Assert.Equal([".Projects"], Directory.GetDirectories(Maildir(d, User), ".*").Select(Path.GetFileName));
    }

    [Fact]
    public async Task An_idle_client_is_logged_out_after_imapd_timeout()
    {
        await using var d = await DaemonProcess.StartAsync(Config(("imapd_timeout", "2s")), output);
        WritePasswd(d);
        await using var c = await Raw.LoginAsync(d);
        Assert.Contains(" OK", await c.SendAsync("SELECT INBOX"));
        // Said nothing more: RFC 9051 §5.4's autologout timer, here 2 seconds instead of the default 30 minutes.
        Assert.Equal("* BYE Disconnected for inactivity.", await c.ReadLineAsync());
        Assert.Null(await c.ReadLineAsync());
        await d.WaitForLogAsync($"imap({User}): Disconnected: Inactivity");
    }

    [Fact]
    public async Task A_client_that_never_reads_its_FETCH_output_is_dropped_without_unbounded_buffering()
    {
        await using var d = await DaemonProcess.StartAsync(Config(("imapd_timeout", "3s")), output);
        WritePasswd(d);
        await using (var c = await Raw.LoginAsync(d))
        {
            // One message of 256 KiB, then 200 pipelined full fetches of it (50 MiB asked for), never read.
            string body = string.Concat(Enumerable.Repeat(new string('x', 1022) + "\r\n", 256));
            byte[] message = Encoding.ASCII.GetBytes("Subject: big\r\n\r\n" + body);
            Assert.Contains(" OK", await c.SendAsync($"APPEND INBOX {{{message.Length}+}}\r\n", message));
            Assert.Contains(" OK", await c.SendAsync("SELECT INBOX"));
            var pipelined = new StringBuilder();
            for (int i = 0; i < 200; i++) pipelined.Append("f").Append(i).Append(" FETCH 1 BODY.PEEK[]\r\n");
            await c.WriteAsync(Encoding.ASCII.GetBytes(pipelined.ToString()));

            // The daemon stops writing when the socket is full and, after imapd_timeout without progress, drops it.
            string end = await d.WaitForLogAsync(l => l.Contains($"imap({User}): Disconnected: Inactivity", StringComparison.Ordinal),
                "the reader-less session dropped", TimeSpan.FromSeconds(60));
            long written = long.Parse(end[(end.LastIndexOf("out=", StringComparison.Ordinal) + 4)..].Trim());
            output.WriteLine($"the daemon wrote {written} bytes of the {200L * message.Length} asked for");
            Assert.True(written < 200L * message.Length / 2, end);
        }

        // Meanwhile and after, others are served.
        await using var other = await Raw.LoginAsync(d, Other, "other-pass");
        Assert.Contains(" OK", await other.SendAsync("SELECT INBOX"));
    }

    [Fact]
    public async Task A_user_cannot_reach_another_users_mail_by_any_name()
    {
        await using var d = await DaemonProcess.StartAsync(Config(), output);
        WritePasswd(d);
        await using (var owner = await Raw.LoginAsync(d, Other, "other-pass"))
        {
            Assert.Contains(" OK", await owner.SendAsync("APPEND INBOX {21+}\r\nSubject: private\r\n\r\nx"));
            Assert.Contains(" OK", await owner.SendAsync("CREATE Secret"));
        }
        await using var c = await Raw.LoginAsync(d);
        string[] reaches = [$"\"../{Other}\"", $"\"../{Other}/.Secret\"", $"\"~{Other}/INBOX\"", $"\"/{Maildir(d, Other).TrimStart('/')}\"",
            $"\"#users.{Other}.INBOX\"", "\"..\""];
        foreach (var name in reaches)
        {
            foreach (var cmd in new[] { "SELECT ", "EXAMINE ", "STATUS ", "DELETE ", "RENAME " })
            {
                string line = cmd == "STATUS " ? cmd + name + " (MESSAGES)" : cmd == "RENAME " ? cmd + name + " Mine" : cmd + name;
                string reply = await c.SendAsync(line);
                Assert.Matches(@"^h\d+ (NO|BAD) ", reply.Split('\n')[^2]);
                Assert.DoesNotContain("MESSAGES 1", reply, StringComparison.Ordinal);
            }
        }
        string list = await c.SendAsync("LIST \"\" \"*\"");
        Assert.DoesNotContain("Secret", list, StringComparison.Ordinal);
        Assert.Contains(" OK", await c.SendAsync("SELECT INBOX"));
        // The other user's mail is where it was.
        Assert.Single(Directory.GetFiles(Path.Combine(Maildir(d, Other), "new"))
            .Concat(Directory.GetFiles(Path.Combine(Maildir(d, Other), "cur"))));
        Assert.True(Directory.Exists(Path.Combine(Maildir(d, Other), ".Secret")));
    }
}
