using System.Net.Sockets;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: a phone keeps appending, flagging and deleting mail while the server crashes;
/// whatever the server acknowledged holds after the restart, and a damaged index costs nothing but a
/// new UIDVALIDITY (issue 9, "Durability under crashes", the IMAP sentence; DESIGN.md decision 5).</summary>
/// <remarks>kill -9 leaves the daemon no chance to flush: only what was on disk before the tagged OK
/// counts. No assertion depends on when the kill lands: each one holds for any moment of it. The long
/// randomized form is bench/imap-crash-test.sh.</remarks>
public sealed class ImapDurabilityTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private const string Password = "durable-pass";
    private const string IndexFile = "posthorn-index.sqlite";

    private async Task<DaemonProcess> StartAsync()
    {
        var config = (TestConfig.Default with { SpoolMaildir = true, SecondListenerCommand = "imapd" })
            .With("posthorn_passwd_file", "$config_directory/passwd").With("imapd_mailbox", "");
        return await DaemonProcess.StartAsync(config, output, d =>
        {
            File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), $"{User}:{{PLAIN}}{Password}::::{d.MaildirOf(User)}::\n");
            foreach (var sub in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(d.MaildirOf(User), sub));
            return Task.CompletedTask;
        });
    }

    private static async Task<ImapClient> LoginAsync(DaemonProcess d)
    {
        var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await imap.AuthenticateAsync(new SaslMechanismScramSha256(User, Password));
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        return imap;
    }

    /// <summary>A message whose Subject is <paramref name="token"/> and whose last line proves it whole.</summary>
    private static MimeMessage Message(string token, int lines = 20)
    {
        var body = new StringBuilder();
        for (int i = 0; i < lines; i++) body.Append($"line {i:D5} of {token}\n");
        body.Append($"end-of-{token}\n");
        var m = new MimeMessage { Subject = token, Body = new TextPart("plain") { Text = body.ToString() } };
        m.From.Add(new MailboxAddress("Crash", "crash@sender.example"));
        m.To.Add(new MailboxAddress(User, $"{User}@{TestConfig.Myhostname}"));
        return m;
    }

    /// <summary>Every message over IMAP: Subject → (UID, flags); a Subject seen twice fails.</summary>
    private static async Task<Dictionary<string, (UniqueId Uid, MessageFlags Flags)>> ListAsync(ImapClient imap)
    {
        var all = new Dictionary<string, (UniqueId, MessageFlags)>(StringComparer.Ordinal);
        if (imap.Inbox.Count == 0) return all;
        foreach (var s in await imap.Inbox.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.Flags | MessageSummaryItems.Envelope))
        {
            string subject = s.Envelope?.Subject ?? throw new Xunit.Sdk.XunitException($"UID {s.UniqueId} has no Subject");
            Assert.True(all.TryAdd(subject, (s.UniqueId, s.Flags!.Value)), $"{subject} is listed twice");
        }
        Assert.Equal(all.Count, all.Values.Select(v => v.Item1).Distinct().Count());
        return all;
    }

    /// <summary>Every file in new/ and cur/: Subject → the flag letters of its name. Fails on a partial
    /// file (no end line) and on two files of one message.</summary>
    private static Dictionary<string, string> MaildirFiles(string maildir)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var sub in new[] { "new", "cur" })
        {
            foreach (var path in Directory.EnumerateFiles(Path.Combine(maildir, sub)))
            {
                string name = Path.GetFileName(path);
                if (name.StartsWith('.')) continue;
                string text = File.ReadAllText(path);
                int at = text.IndexOf("Subject: ", StringComparison.Ordinal);
                Assert.True(at >= 0, $"{path} has no Subject");
                string token = text[(at + 9)..text.IndexOf('\n', at)].TrimEnd('\r');
                Assert.True(text.TrimEnd().EndsWith($"end-of-{token}", StringComparison.Ordinal), $"{path} is partial");
                int info = name.IndexOf(":2,", StringComparison.Ordinal);
                Assert.True(files.TryAdd(token, info < 0 ? "" : name[(info + 3)..]), $"{token} has two files");
            }
        }
        return files;
    }

    /// <summary>The index and the files agree: the same messages, and IMAP's flags are the file name's letters.</summary>
    private static void AssertIndexAgreesWithFiles(Dictionary<string, (UniqueId Uid, MessageFlags Flags)> imap, string maildir)
    {
        var files = MaildirFiles(maildir);
        Assert.Equal(files.Keys.Order(StringComparer.Ordinal), imap.Keys.Order(StringComparer.Ordinal));
        foreach (var (token, (_, flags)) in imap)
        {
            Assert.Equal(flags.HasFlag(MessageFlags.Seen), files[token].Contains('S'));
            Assert.Equal(flags.HasFlag(MessageFlags.Flagged), files[token].Contains('F'));
            Assert.Equal(flags.HasFlag(MessageFlags.Deleted), files[token].Contains('T'));
        }
    }

    [Fact]
    public async Task Kill_9_during_a_stream_of_appends_keeps_every_acknowledged_message_exactly_once()
    {
        await using var d = await StartAsync();
        var acked = new List<string>();
        string? inFlight = null;
        var stream = Task.Run(async () =>
        {
            using var imap = await LoginAsync(d);
            try
            {
                for (int i = 0; i < 1000; i++)
                {
                    string token = $"stream-{i}";
                    Volatile.Write(ref inFlight, token);
                    await imap.Inbox.AppendAsync(Message(token, lines: 50 * (i % 7)));
                    lock (acked) acked.Add(token);
                }
            }
            catch (Exception e) when (e is IOException or ImapProtocolException or ServiceNotConnectedException or SocketException)
            {
                // The daemon died under the APPEND in flight: it is not acknowledged.
            }
        });
        await Wait.UntilAsync(() => { lock (acked) return acked.Count >= 10; }, TimeSpan.FromSeconds(60), "10 acknowledged APPENDs", d.Diagnostics);
        await d.KillHardAsync();
        await stream.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(acked.Count < 1000, "the stream ended before the kill");

        await d.StartAsync();
        using var after = await LoginAsync(d);
        var present = await ListAsync(after);
        foreach (string token in acked) Assert.Contains(token, present.Keys);
        // Only the APPEND in flight at the kill may or may not have made it.
        Assert.DoesNotContain(present.Keys, t => !acked.Contains(t) && t != inFlight);
        AssertIndexAgreesWithFiles(present, d.MaildirOf(User));
    }

    [Fact]
    public async Task Kill_9_while_an_APPEND_literal_streams_leaves_no_half_written_message()
    {
        await using var d = await StartAsync();
        using (var imap = await LoginAsync(d))
        {
            for (int i = 0; i < 3; i++) await imap.Inbox.AppendAsync(Message($"before-{i}"));
        }

        // A raw session: the literal's first half goes out, then the daemon dies waiting for the rest.
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value);
            var net = tcp.GetStream();
            await ReadLineAsync(net);
            string plain = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{User}\0{Password}"));
            await WriteAsync(net, $"a1 AUTHENTICATE PLAIN {plain}\r\n");
            Assert.StartsWith("a1 OK", await ReadTaggedAsync(net, "a1"));
            var big = Encoding.ASCII.GetBytes(Message("half-written", lines: 40_000).ToString().ReplaceLineEndings("\r\n"));
            await WriteAsync(net, $"a2 APPEND INBOX {{{big.Length}}}\r\n");
            Assert.StartsWith("+", await ReadLineAsync(net));
            await net.WriteAsync(big.AsMemory(0, big.Length / 2));
            await net.FlushAsync();
            await d.KillHardAsync();
        }

        await d.StartAsync();
        using var after = await LoginAsync(d);
        var present = await ListAsync(after);
        Assert.Equal(["before-0", "before-1", "before-2"], present.Keys.Order(StringComparer.Ordinal));
        AssertIndexAgreesWithFiles(present, d.MaildirOf(User));
    }

    [Fact]
    public async Task Kill_9_after_STORE_and_after_EXPUNGE_keeps_their_outcome_and_the_index_agrees_with_the_files()
    {
        await using var d = await StartAsync();
        uint validity;
        Dictionary<string, (UniqueId Uid, MessageFlags Flags)> before;
        using (var imap = await LoginAsync(d))
        {
            for (int i = 0; i < 6; i++) await imap.Inbox.AppendAsync(Message($"msg-{i}"));
            before = await ListAsync(imap);
            validity = imap.Inbox.UidValidity;
            await imap.Inbox.AddFlagsAsync(before["msg-0"].Uid, MessageFlags.Seen, silent: false);
            await imap.Inbox.AddFlagsAsync(before["msg-1"].Uid, MessageFlags.Seen | MessageFlags.Flagged, silent: false);
            await imap.Inbox.AddFlagsAsync(before["msg-2"].Uid, MessageFlags.Flagged, silent: false);
            await imap.Inbox.AddFlagsAsync(before["msg-3"].Uid, MessageFlags.Seen, silent: false);
            await imap.Inbox.RemoveFlagsAsync(before["msg-3"].Uid, MessageFlags.Seen, silent: false);
            await d.KillHardAsync();   // right after the last tagged OK, session still open
        }

        await d.StartAsync();
        using (var imap = await LoginAsync(d))
        {
            Assert.Equal(validity, imap.Inbox.UidValidity);
            var now = await ListAsync(imap);
            Assert.Equal(before.ToDictionary(kv => kv.Key, kv => kv.Value.Uid), now.ToDictionary(kv => kv.Key, kv => kv.Value.Uid));
            Assert.Equal(MessageFlags.Seen, now["msg-0"].Flags);
            Assert.Equal(MessageFlags.Seen | MessageFlags.Flagged, now["msg-1"].Flags);
            Assert.Equal(MessageFlags.Flagged, now["msg-2"].Flags);
            Assert.Equal(MessageFlags.None, now["msg-3"].Flags);
            AssertIndexAgreesWithFiles(now, d.MaildirOf(User));

            await imap.Inbox.AddFlagsAsync(now["msg-4"].Uid, MessageFlags.Deleted, silent: true);
            await imap.Inbox.ExpungeAsync([now["msg-4"].Uid]);
            await d.KillHardAsync();
        }

        await d.StartAsync();
        using (var imap = await LoginAsync(d))
        {
            Assert.Equal(validity, imap.Inbox.UidValidity);
            var now = await ListAsync(imap);
            Assert.DoesNotContain("msg-4", now.Keys);
            Assert.Equal(5, now.Count);
            Assert.Equal(MessageFlags.Seen | MessageFlags.Flagged, now["msg-1"].Flags);
            Assert.All(now, kv => Assert.Equal(before[kv.Key].Uid, kv.Value.Uid));
            // UIDs are never given twice: the next APPEND gets a UID above every earlier one.
            var uid = await imap.Inbox.AppendAsync(Message("msg-after"));
            Assert.True(uid!.Value.Id > before.Values.Max(v => v.Uid.Id), $"UID {uid} reused");
            AssertIndexAgreesWithFiles(await ListAsync(imap), d.MaildirOf(User));
        }
    }

    [Theory]
    [InlineData("deleted")]
    [InlineData("deleted-after-kill-9")]
    [InlineData("emptied")]
    [InlineData("truncated")]
    [InlineData("garbage")]
    public async Task A_damaged_index_is_rebuilt_on_restart_with_every_message_and_its_flags(string damage)
    {
        await using var d = await StartAsync();
        string index = Path.Combine(d.MaildirOf(User), IndexFile);
        uint validity;
        Dictionary<string, (UniqueId Uid, MessageFlags Flags)> before;
        using (var imap = await LoginAsync(d))
        {
            for (int i = 0; i < 5; i++) await imap.Inbox.AppendAsync(Message($"keep-{i}", lines: 100));
            var list = await ListAsync(imap);
            await imap.Inbox.AddFlagsAsync(list["keep-1"].Uid, MessageFlags.Seen, silent: true);
            await imap.Inbox.AddFlagsAsync(list["keep-3"].Uid, MessageFlags.Flagged | MessageFlags.Seen, silent: true);
            before = await ListAsync(imap);
            validity = imap.Inbox.UidValidity;
            if (damage == "deleted-after-kill-9") await d.KillHardAsync();
            else await imap.DisconnectAsync(quit: true);
        }
        if (d.IsRunning) await d.StopAsync();
        Assert.True(File.Exists(index), $"{index} was never written");

        switch (damage)
        {
            case "deleted" or "deleted-after-kill-9":
                File.Delete(index);   // a -wal left by the kill stays where it is
                break;
            case "emptied":
                File.WriteAllBytes(index, []);
                break;
            case "truncated":
                using (var f = new FileStream(index, FileMode.Open)) f.SetLength(f.Length / 2);
                break;
            case "garbage":
                File.WriteAllBytes(index, Enumerable.Range(0, 8192).Select(i => (byte)(i * 31 + 7)).ToArray());
                // A WAL still holding every page would mask the damage: make sure it is the file that is read.
                File.Delete(index + "-wal");
                File.Delete(index + "-shm");
                break;
        }
        // UIDVALIDITY is the time in seconds: let a second pass so a new one can be told apart.
        await Wait.UntilAsync(() => DateTimeOffset.UtcNow.ToUnixTimeSeconds() > validity, TimeSpan.FromSeconds(5), "the next second");

        await d.StartAsync();
        using var after = await LoginAsync(d);
        var now = await ListAsync(after);
        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), now.Keys.Order(StringComparer.Ordinal));
        // Flags live in the file names (Maildir :2,FLAGS), so they survive the index.
        Assert.All(now, kv => Assert.Equal(before[kv.Key].Flags, kv.Value.Flags));
        // RFC 9051 §2.3.1.1: either the index (or what SQLite could still read of it, with its WAL) kept
        // every UID, or the UIDs were reassigned under a larger UIDVALIDITY.
        if (after.Inbox.UidValidity == validity)
            Assert.All(now, kv => Assert.Equal(before[kv.Key].Uid, kv.Value.Uid));
        else
            Assert.True(after.Inbox.UidValidity > validity, $"UIDVALIDITY went from {validity} down to {after.Inbox.UidValidity}");
        output.WriteLine($"{damage}: UIDVALIDITY {validity} -> {after.Inbox.UidValidity}");
        AssertIndexAgreesWithFiles(now, d.MaildirOf(User));
        // The rebuilt index works on: a new message and a flag change go through and stay.
        var uid = await after.Inbox.AppendAsync(Message("keep-new"));
        Assert.NotNull(uid);
        await after.Inbox.AddFlagsAsync(now["keep-0"].Uid, MessageFlags.Flagged, silent: true);
        AssertIndexAgreesWithFiles(await ListAsync(after), d.MaildirOf(User));
    }

    private static Task WriteAsync(NetworkStream net, string line) => net.WriteAsync(Encoding.ASCII.GetBytes(line)).AsTask();

    private static async Task<string> ReadLineAsync(NetworkStream net)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            if (await net.ReadAsync(one, cts.Token) == 0) throw new IOException($"connection closed after \"{line}\"");
            if (one[0] == '\n') return line.ToString().TrimEnd('\r');
            line.Append((char)one[0]);
        }
    }

    private static async Task<string> ReadTaggedAsync(NetworkStream net, string tag)
    {
        while (true)
        {
            string line = await ReadLineAsync(net);
            if (line.StartsWith(tag + " ", StringComparison.Ordinal)) return line;
        }
    }
}
