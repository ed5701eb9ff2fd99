using System.Diagnostics;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailKit.Security;
using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>The clients people read mail with, each against the real daemon, on mail that arrived over SMTP:
/// python's imaplib and poplib, curl's pop3:// URLs, mutt over IMAP, and MailKit's IDLE, MOVE and CONDSTORE
/// (issue 8, "Proof").</summary>
public sealed partial class MailboxAccessTests
{
    private static string Maildir(DaemonProcess d) => Path.Combine(d.ConfigDir, "maildir", User);

    private static string[] MessageFiles(DaemonProcess d) =>
        [.. Directory.GetFiles(Path.Combine(Maildir(d), "cur")), .. Directory.GetFiles(Path.Combine(Maildir(d), "new"))];

    private static Task<ToolResult> PythonAsync(string script, params string[] args) =>
        ExternalTool.RunAsync("python3", "python3", ["-c", script, .. args]);

    [Fact]
    public async Task Python_imaplib_searches_fetches_and_flags_and_the_flag_reaches_the_Maildir_name()
    {
        await using var d = await DaemonProcess.StartAsync(WithMailboxAccess("imapd"), output);
        WritePasswd(d);
        string token = Token.New();
        await SendAsync(d, token);
        await SendAsync(d, Token.New());

        const string script = """
            import imaplib, sys
            port, user, password, token = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
            m = imaplib.IMAP4('127.0.0.1', port)
            m.login(user, password)
            typ, data = m.select('INBOX')
            print('EXISTS', data[0].decode())
            typ, data = m.uid('SEARCH', None, 'SUBJECT', '"imap %s"' % token)
            uids = data[0].split()
            print('FOUND', len(uids))
            typ, data = m.uid('FETCH', uids[0], '(RFC822)')
            print('HASBODY', (b'body ' + token.encode()) in data[0][1])
            typ, data = m.uid('STORE', uids[0], '+FLAGS', r'(\Flagged)')
            typ, data = m.uid('FETCH', uids[0], '(FLAGS)')
            print('FLAGS', data[0].decode())
            m.close()
            m.logout()
            """;
        var r = await PythonAsync(script, d.SecondSmtpPort!.Value.ToString(), User, Password, token);
        output.WriteLine(r.ToString());
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("EXISTS 2", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("FOUND 1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("HASBODY True", r.Stdout, StringComparison.Ordinal);
        Assert.Contains(@"\Flagged", r.Stdout, StringComparison.Ordinal);
        // RFC822 (not PEEK) sets \Seen (RFC 9051 §6.4.5); with \Flagged the name ends ":2,FS", where mutt reads it.
        Assert.Single(MessageFiles(d), f => f.EndsWith(":2,FS", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Python_poplib_reads_with_UIDL_and_TOP_a_second_session_is_locked_out_and_DELE_commits_at_QUIT()
    {
        await using var d = await DaemonProcess.StartAsync(WithMailboxAccess("pop3d"), output);
        WritePasswd(d);
        string token = Token.New();
        await SendAsync(d, token);

        const string script = """
            import poplib, sys
            port, user, password, token = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
            p = poplib.POP3('127.0.0.1', port)
            p.user(user)
            p.pass_(password)
            print('STAT', p.stat()[0])
            print('UIDL', p.uidl(1).decode())
            resp, lines, octets = p.top(1, 0)
            print('TOPSUBJECT', any(l == ('Subject: imap ' + token).encode() for l in lines))
            print('TOPNOBODY', not any(l == ('body ' + token).encode() for l in lines))
            resp, lines, octets = p.retr(1)
            print('RETRBODY', any(l == ('body ' + token).encode() for l in lines))
            p.dele(1)
            # RFC 1939 §8: the maildrop is locked while the first session is in TRANSACTION state.
            q = poplib.POP3('127.0.0.1', port)
            q.user(user)
            try:
                q.pass_(password)
                print('SECOND', 'allowed')
            except poplib.error_proto as e:
                print('SECOND', e.args[0].decode())
            q.close()
            sys.stdout.flush()
            input()
            p.quit()
            print('QUIT done')
            """;
        // The script waits on stdin after DELE so the test can look at the Maildir before QUIT.
        var psi = ProcessRunner.NewStartInfo(ExternalTool.Require("python3", "python3"),
            ["-u", "-c", script, d.SecondSmtpPort!.Value.ToString(), User, Password, token], null, null);
        using var python = Process.Start(psi)!;
        var lines = new List<string>();
        while (await python.StandardOutput.ReadLineAsync() is { } line)
        {
            lines.Add(line);
            if (line.StartsWith("SECOND", StringComparison.Ordinal)) break;
        }
        output.WriteLine(string.Join('\n', lines));
        Assert.Contains("STAT 1", lines);
        Assert.Contains("TOPSUBJECT True", lines);
        Assert.Contains("TOPNOBODY True", lines);
        Assert.Contains("RETRBODY True", lines);
        Assert.Contains("SECOND -ERR [IN-USE] Mailbox is locked by another POP3 session.", lines);
        await d.WaitForLogAsync($"pop3({User}): Error: Couldn't open INBOX: Mailbox is locked by another POP3 session");
        // DELE marks only: the file is still there until QUIT (RFC 1939 §6, UPDATE state).
        Assert.Single(MessageFiles(d));

        await python.StandardInput.WriteLineAsync();
        await python.StandardInput.FlushAsync();
        string rest = await python.StandardOutput.ReadToEndAsync();
        await python.WaitForExitAsync();
        output.WriteLine(rest + await python.StandardError.ReadToEndAsync());
        Assert.Equal(0, python.ExitCode);
        Assert.Contains("QUIT done", rest, StringComparison.Ordinal);
        await Wait.UntilAsync(() => MessageFiles(d).Length == 0, TimeSpan.FromSeconds(10), "the message removed after QUIT");
    }

    [Fact]
    public async Task Curl_lists_and_retrieves_over_POP3()
    {
        await using var d = await DaemonProcess.StartAsync(WithMailboxAccess("pop3d"), output);
        WritePasswd(d);
        string token = Token.New();
        await SendAsync(d, token);
        string url = $"pop3://127.0.0.1:{d.SecondSmtpPort}/";

        var list = await ExternalTool.RunAsync("curl", "curl", ["-s", "--max-time", "30", "--url", url, "-u", $"{User}:{Password}"]);
        Assert.True(list.ExitCode == 0, list.ToString());
        long size = new FileInfo(Assert.Single(MessageFiles(d))).Length;
        // The scan listing (RFC 1939 §5 LIST): "1 octets", octets counting CRLF line ends.
        var first = list.Stdout.Split('\n')[0].TrimEnd('\r').Split(' ');
        Assert.Equal("1", first[0]);
        Assert.True(long.Parse(first[1]) >= size, list.Stdout);

        var retr = await ExternalTool.RunAsync("curl", "curl", ["-s", "--max-time", "30", "--url", url + "1", "-u", $"{User}:{Password}"]);
        Assert.True(retr.ExitCode == 0, retr.ToString());
        Assert.Contains($"Subject: imap {token}", retr.Stdout, StringComparison.Ordinal);
        Assert.Contains($"body {token}", retr.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mutt_reads_the_INBOX_over_IMAP()
    {
        await using var d = await DaemonProcess.StartAsync(WithMailboxAccess("imapd"), output);
        WritePasswd(d);
        string token = Token.New();
        await SendAsync(d, token);
        string work = Directory.CreateDirectory(Path.Combine(d.ConfigDir, "mutt-imap")).FullName;
        string url = $"imap://{User}:{Password}@127.0.0.1:{d.SecondSmtpPort}/INBOX";

        // The test daemon has no certificate: mutt is told to log in over plain text on loopback.
        var view = await Mutt.ReadFirstMessageAsync(url, work, "set ssl_starttls=no", "set ssl_force_tls=no");
        Assert.Contains(MuttView.IndexLine("alice@sender.example", $"imap {token}"), view.Screen, StringComparison.Ordinal);
        Assert.Contains(MuttView.StatusLine(1), view.Screen, StringComparison.Ordinal);
        Assert.Contains($"body {token}", view.Decoded, StringComparison.Ordinal);
        await d.WaitForLogAsync(l => l.Contains($"imap-login: Login: user=<{User}>", StringComparison.Ordinal), "mutt's login logged");
    }

    [Fact]
    public async Task MailKit_IDLE_sees_mail_delivered_by_SMTP_then_MOVE_and_CONDSTORE_work_on_it()
    {
        await using var d = await DaemonProcess.StartAsync(WithMailboxAccess("imapd"), output);
        WritePasswd(d);
        using var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await imap.AuthenticateAsync(User, Password);
        Assert.True(imap.Capabilities.HasFlag(ImapCapabilities.Idle));
        Assert.True(imap.Capabilities.HasFlag(ImapCapabilities.CondStore));
        var inbox = imap.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(0, inbox.Count);

        // IDLE (RFC 2177): the EXISTS for mail delivered while idling ends the wait.
        using var done = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int arrived = 0;
        inbox.CountChanged += (_, _) => { if (inbox.Count > 0 && Interlocked.Exchange(ref arrived, 1) == 0) done.Cancel(); };
        var idle = imap.IdleAsync(done.Token);
        string token = Token.New();
        await SendAsync(d, token);
        var clock = Stopwatch.StartNew();
        await idle;
        output.WriteLine($"EXISTS seen {clock.ElapsedMilliseconds} ms after the queue file was removed");
        Assert.Equal(1, arrived);
        Assert.Equal(1, inbox.Count);

        // CONDSTORE (RFC 7162): a STORE raises the message's MODSEQ, and CHANGEDSINCE finds exactly it.
        ulong before = inbox.HighestModSeq;
        var uid = (await inbox.SearchAsync(SearchQuery.SubjectContains($"imap {token}"))).Single();
        await inbox.AddFlagsAsync(uid, MessageFlags.Flagged, silent: true);
        var changed = await inbox.FetchAsync(0, -1, before, MessageSummaryItems.Flags | MessageSummaryItems.UniqueId | MessageSummaryItems.ModSeq);
        var m = Assert.Single(changed);
        Assert.Equal(uid, m.UniqueId);
        Assert.True(m.ModSeq > before, $"modseq {m.ModSeq} after {before}");
        Assert.True(m.Flags!.Value.HasFlag(MessageFlags.Flagged));

        // MOVE (RFC 6851) with UIDPLUS's COPYUID: the message leaves INBOX and is in Archive with its flag.
        var archive = await imap.GetFolder(imap.PersonalNamespaces[0]).CreateAsync("Archive", isMessageFolder: true) ?? throw new InvalidOperationException("CREATE Archive");
        var moved = await inbox.MoveToAsync(uid, archive);
        Assert.NotNull(moved);
        Assert.Equal(0, inbox.Count);
        await archive.OpenAsync(FolderAccess.ReadOnly);
        var there = (await archive.FetchAsync(0, -1, MessageSummaryItems.Envelope | MessageSummaryItems.Flags | MessageSummaryItems.UniqueId)).Single();
        Assert.Equal(moved.Value, there.UniqueId);
        Assert.Equal($"imap {token}", there.Envelope!.Subject);
        Assert.True(there.Flags!.Value.HasFlag(MessageFlags.Flagged));
        await imap.DisconnectAsync(quit: true);
        // The Maildir++ folder on disk holds it, where mutt and delivery find it.
        Assert.Single(Directory.GetFiles(Path.Combine(Maildir(d), ".Archive", "cur")));
        Assert.Empty(MessageFiles(d));
    }

    [Fact]
    public async Task POP3_UIDLs_are_the_IMAP_UIDs_with_UIDVALIDITY_and_a_POP3_delete_is_an_IMAP_expunge()
    {
        // One daemon, one Maildir, both services: imapd (the test kit's second row) and a pop3d row.
        var d = DaemonProcess.Create(WithMailboxAccess("imapd"), output);
        await using var _ = d;
        int popPort = FreePort.Next();
        File.AppendAllText(Path.Combine(d.ConfigDir, "master.cf"), $"127.0.0.1:{popPort} inet n - n - - pop3d\n");
        WritePasswd(d);
        await d.StartAsync();
        string keep = Token.New(), drop = Token.New();
        await SendAsync(d, keep);
        await SendAsync(d, drop);

        using var imap = new ImapClient { Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", d.SecondSmtpPort!.Value, SecureSocketOptions.None);
        await imap.AuthenticateAsync(User, Password);
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var byUid = (await imap.Inbox.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.Envelope))
            .ToDictionary(m => m.Envelope!.Subject ?? "", m => m.UniqueId.Id);
        uint validity = imap.Inbox.UidValidity;
        await imap.Inbox.CloseAsync();

        using (var pop = new MailKit.Net.Pop3.Pop3Client { Timeout = 30_000 })
        {
            await pop.ConnectAsync("127.0.0.1", popPort, SecureSocketOptions.None);
            await pop.AuthenticateAsync(User, Password);
            var uidls = await pop.GetMessageUidsAsync();
            // Dovecot's default pop3_uidl_format %08Xu%08Xv: the same message has one identity in both protocols.
            Assert.Equal(byUid.Values.Select(uid => $"{uid:X8}{validity:X8}").Order(), uidls.Order());
            int index = uidls.IndexOf($"{byUid[$"imap {drop}"]:X8}{validity:X8}");
            await pop.DeleteMessageAsync(index);
            await pop.DisconnectAsync(quit: true);
        }

        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var left = (await imap.Inbox.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.Envelope)).Single();
        Assert.Equal($"imap {keep}", left.Envelope!.Subject);
        Assert.Equal(byUid[$"imap {keep}"], left.UniqueId.Id);
        Assert.Equal(validity, imap.Inbox.UidValidity);
        await imap.DisconnectAsync(quit: true);
    }
}
