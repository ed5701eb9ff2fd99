using System.Text;
using Posthorn.Core;
using Posthorn.Mail.Delivery;
using Posthorn.Store;
using Posthorn.Store.Maildir;
using Posthorn.Store.Mbox;
using Xunit;

namespace Posthorn.Tests.Store;

/// <summary>The mbox INBOX of mail_spool_directory users: parsing, UIDs, Status/X-Status flags, rewrite and append,
/// on mboxes written by the real local delivery code (MboxFile + MailCopy).</summary>
public sealed class MboxInboxTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("posthorn-mbox-");
    private string Spool => Path.Combine(_root.FullName, "mail");
    private string Mbox => Path.Combine(Spool, "u");
    private string Maildir => Path.Combine(_root.FullName, "home", "Maildir");
    private string IndexDir => Path.Combine(_root.FullName, "data", "imapd-mbox");

    public MboxInboxTests() => Directory.CreateDirectory(Spool);

    public void Dispose() => _root.Delete(recursive: true);

    private static readonly MboxLockOptions Locking = new(500, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(500));

    internal static readonly MboxFile.Locking DeliveryLocking = new(500, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(500), TimeProvider.System, default);

    private MboxInboxStore NewStore(bool inPlace = false) =>
        new(new MaildirStore(TimeProvider.System, "test", 1), TimeProvider.System, IndexDir) { ForceInPlace = inPlace };

    private IMailAccount Account(MboxInboxStore store) => store.ForConfig("", Spool, Locking).OpenAccount("u", Maildir);

    /// <summary>Delivers as local(8) does: From_ line, Return-Path, the message with "From " quoted, a blank line.</summary>
    internal static void Deliver(string mbox, string text, string sender = "alice@example.test")
    {
        var path = SmtpPath.FromAddress(sender);
        string prefix = MailCopy.FromLine(path, DateTimeOffset.Now) + MailCopy.DeliveryHeaders(path, null, null);
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(text));
        MboxFile.Append(mbox, owner: null, chown: null, DeliveryLocking, dotlockMayFail: false,
            (fd, end) => MailCopy.Write(fd, end, 0, prefix, content, mbox: true));
    }

    private static async Task<string> TextAsync(IMailbox box, int index) =>
        Encoding.UTF8.GetString((await box.ReadAsync(box.Messages[index], default))!);

    [Fact]
    public async Task Messages_are_split_at_From_lines_and_quoted_From_lines_are_served_unquoted()
    {
        Deliver(Mbox, "Subject: one\n\nFrom the start\nplain\n");
        Deliver(Mbox, "Subject: two\n\nsecond\n");
        Assert.Contains("\n>From the start\n", File.ReadAllText(Mbox), StringComparison.Ordinal);

        await using var box = (await Account(NewStore()).OpenAsync("INBOX", false, default))!;
        Assert.Equal(2, box.Messages.Count);
        string one = await TextAsync(box, 0);
        Assert.Equal("Return-Path: <alice@example.test>\nSubject: one\n\nFrom the start\nplain\n", one);
        Assert.Equal("Return-Path: <alice@example.test>\nSubject: two\n\nsecond\n", await TextAsync(box, 1));
        // RFC822.SIZE counts CRLF line ends.
        Assert.Equal(Encoding.UTF8.GetByteCount(one.Replace("\n", "\r\n", StringComparison.Ordinal)), box.Messages[0].Size);
        Assert.Equal([1u, 2u], box.Messages.Select(m => m.Uid));
    }

    [Fact]
    public async Task Status_and_X_Status_headers_give_flags_and_are_not_served()
    {
        File.WriteAllText(Mbox,
            "From a@example.test  Tue Nov 25 13:17:08 2026\nSubject: read\nStatus: RO\nX-Status: AF\n\nbody\n\n" +
            "From b@example.test  Tue Nov 25 13:18:08 2026\nSubject: new\n\nbody\n\n" +
            "From c@example.test  Tue Nov 25 13:19:08 2026\nSubject: gone\nStatus: O\nX-Status: DT\n\nbody\n\n");
        await using var box = (await Account(NewStore()).OpenAsync("INBOX", false, default))!;
        Assert.Equal(MessageFlags.Seen | MessageFlags.Answered | MessageFlags.Flagged, box.Messages[0].Flags);
        Assert.Equal(MessageFlags.None, box.Messages[1].Flags);
        Assert.Equal(MessageFlags.Deleted | MessageFlags.Draft, box.Messages[2].Flags);
        Assert.Equal("Subject: read\n\nbody\n", await TextAsync(box, 0));
        var local = new DateTime(2026, 11, 25, 13, 18, 8, DateTimeKind.Unspecified);
        Assert.Equal(new DateTimeOffset(local, TimeZoneInfo.Local.GetUtcOffset(local)), box.Messages[1].InternalDate);
    }

    [Fact]
    public async Task Uids_and_uidvalidity_stay_the_same_after_reopening_and_new_mail_gets_the_next_uid()
    {
        Deliver(Mbox, "Subject: a\n\nx\n");
        Deliver(Mbox, "Subject: b\n\ny\n");
        uint validity;
        await using (var box = (await Account(NewStore()).OpenAsync("INBOX", false, default))!)
        {
            validity = box.UidValidity;
            Assert.Equal([1u, 2u], box.Messages.Select(m => m.Uid));
        }
        Deliver(Mbox, "Subject: c\n\nz\n");
        await using var again = (await Account(NewStore()).OpenAsync("INBOX", false, default))!;
        Assert.Equal(validity, again.UidValidity);
        Assert.Equal([1u, 2u, 3u], again.Messages.Select(m => m.Uid));
        Assert.Contains("Subject: c", await TextAsync(again, 2), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mail_delivered_while_the_mailbox_is_open_shows_at_the_next_sync()
    {
        Deliver(Mbox, "Subject: a\n\nx\n");
        await using var box = (await Account(NewStore()).OpenAsync("INBOX", false, default))!;
        Assert.Single(box.Messages);
        Deliver(Mbox, "Subject: late\n\nFrom me\n");
        var changes = await box.SyncAsync(true, default);
        Assert.True(changes.CountChanged);
        Assert.Equal(2, changes.Exists);
        Assert.Equal([1u, 2u], box.Messages.Select(m => m.Uid));
        Assert.EndsWith("Subject: late\n\nFrom me\n", await TextAsync(box, 1), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Expunge_rewrites_the_mbox_without_deleted_messages_and_writes_flags_as_Status(bool inPlace)
    {
        Deliver(Mbox, "Subject: keep1\n\nx\n");
        Deliver(Mbox, "Subject: drop\n\ny\n");
        Deliver(Mbox, "Subject: keep2\n\nz\n");
        ulong inode = Inode(Mbox);
        var store = NewStore(inPlace);
        await using (var box = (await Account(store).OpenAsync("INBOX", false, default))!)
        {
            await box.StoreFlagsAsync([1], FlagOperation.Add, MessageFlags.Deleted, [], default);
            await box.StoreFlagsAsync([2], FlagOperation.Add, MessageFlags.Seen | MessageFlags.Flagged, [], default);
            var seqs = await box.ExpungeAsync(null, default);
            Assert.Equal([2], seqs);
            Assert.Equal([1u, 3u], box.Messages.Select(m => m.Uid));
        }
        string text = File.ReadAllText(Mbox);
        Assert.DoesNotContain("Subject: drop", text, StringComparison.Ordinal);
        Assert.Contains("Subject: keep2\nStatus: R\nX-Status: F\n\nz\n", text, StringComparison.Ordinal);
        Assert.Equal(2, text.Split('\n').Count(l => l.StartsWith("From ", StringComparison.Ordinal)));
        Assert.Equal(inPlace, Inode(Mbox) == inode);
        Assert.False(File.Exists(Mbox + ".lock"));
        Assert.Empty(Directory.GetFiles(Spool, ".*tmp"));
        // The UIDs survive the rewrite, in this store and in a new one (a restart).
        await using var again = (await Account(NewStore()).OpenAsync("INBOX", false, default))!;
        Assert.Equal([1u, 3u], again.Messages.Select(m => m.Uid));
        Assert.Equal(MessageFlags.Seen | MessageFlags.Flagged, again.Messages[1].Flags);
    }

    [Fact]
    public async Task Flag_changes_are_written_to_the_mbox_when_the_mailbox_is_closed()
    {
        Deliver(Mbox, "Subject: a\n\nx\n");
        await using (var box = (await Account(NewStore()).OpenAsync("INBOX", false, default))!)
        {
            await box.StoreFlagsAsync([0], FlagOperation.Add, MessageFlags.Seen | MessageFlags.Answered, [], default);
            Assert.DoesNotContain("Status:", File.ReadAllText(Mbox), StringComparison.Ordinal);
        }
        Assert.Contains("Subject: a\nStatus: R\nX-Status: A\n\nx\n", File.ReadAllText(Mbox), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rewrite_by_another_program_keeps_uids_and_its_flag_changes_win()
    {
        Deliver(Mbox, "Subject: a\n\nx\n");
        Deliver(Mbox, "Subject: b\n\ny\n");
        var store = NewStore();
        await using var box = (await Account(store).OpenAsync("INBOX", false, default))!;
        uint validity = box.UidValidity;
        // As mutt does on sync: rewrite in place with Status/Content-Length headers, here also dropping message 1.
        string text = File.ReadAllText(Mbox);
        int second = text.IndexOf("\nFrom ", StringComparison.Ordinal) + 1;
        string rewritten = text[second..].Replace("Subject: b\n", "Subject: b\nStatus: RO\nContent-Length: 2\nLines: 1\n", StringComparison.Ordinal);
        File.WriteAllText(Mbox, rewritten);
        var changes = await box.SyncAsync(true, default);
        Assert.Equal([1], changes.Expunged);
        Assert.Equal(validity, box.UidValidity);
        var m = Assert.Single(box.Messages);
        Assert.Equal(2u, m.Uid);
        Assert.Equal(MessageFlags.Seen, m.Flags);
        Assert.Equal([0], changes.FlagsChanged);
        Assert.DoesNotContain("Content-Length", await TextAsync(box, 0), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_inserted_before_known_ones_changes_uidvalidity()
    {
        Deliver(Mbox, "Subject: a\n\nx\n");
        uint validity;
        await using (var box = (await Account(NewStore()).OpenAsync("INBOX", false, default))!)
            validity = box.UidValidity;
        File.WriteAllText(Mbox, "From z@example.test  Tue Nov 25 13:17:08 2026\nSubject: first\n\nq\n\n" + File.ReadAllText(Mbox));
        await using var again = (await Account(NewStore()).OpenAsync("INBOX", false, default))!;
        Assert.NotEqual(validity, again.UidValidity);
        Assert.Equal([1u, 2u], again.Messages.Select(m => m.Uid));
    }

    [Fact]
    public async Task Append_writes_mbox_form_with_quoting_and_status_and_reads_back()
    {
        Deliver(Mbox, "Subject: a\n\nx\n");
        var account = Account(NewStore());
        var message = Encoding.ASCII.GetBytes("Subject: appended\r\nStatus: RO\r\n\r\nFrom here\r\nend\r\n");
        var date = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var (result, error) = await account.AppendAsync("INBOX", message, MessageFlags.Flagged, ["$label1"], date, default);
        Assert.Null(error);
        Assert.Equal(2u, result!.Uid);
        string text = File.ReadAllText(Mbox);
        Assert.EndsWith("Subject: appended\nX-Status: F\nX-Keywords: $label1\n\n>From here\nend\n\n", text, StringComparison.Ordinal);
        Assert.Contains("\n\nFrom MAILER-DAEMON  ", text, StringComparison.Ordinal);
        await using var box = (await account.OpenAsync("INBOX", false, default))!;
        var m = box.Messages[1];
        Assert.Equal(result.UidValidity, box.UidValidity);
        Assert.Equal(MessageFlags.Flagged, m.Flags);
        Assert.Equal(["$label1"], m.Keywords);
        Assert.Equal(date, m.InternalDate);
        Assert.Equal("Subject: appended\n\nFrom here\nend\n", await TextAsync(box, 1));
        Assert.Equal(message.Length - "Status: RO\r\n".Length, m.Size);
    }

    [Fact]
    public async Task Deliveries_during_expunges_are_never_lost()
    {
        Deliver(Mbox, "Subject: seed\n\nx\n");
        var store = NewStore();
        await using var box = (await Account(store).OpenAsync("INBOX", false, default))!;
        const int deliveries = 30;
        var delivering = Task.Run(() =>
        {
            for (int i = 0; i < deliveries; i++) Deliver(Mbox, $"Subject: d{i}\n\nbody {i}\n");
        });
        int expunged = 0;
        while (!delivering.IsCompleted || box.Messages.Any(m => !m.Flags.HasFlag(MessageFlags.Deleted)))
        {
            await box.SyncAsync(true, default);
            var all = Enumerable.Range(0, box.Messages.Count).ToList();
            if (all.Count == 0) continue;
            await box.StoreFlagsAsync(all, FlagOperation.Add, MessageFlags.Deleted, [], default);
            expunged += (await box.ExpungeAsync(null, default)).Count;
            if (delivering.IsCompleted && box.Messages.Count == 0) break;
        }
        await delivering;
        await box.SyncAsync(true, default);
        // Every delivered message was either expunged by us (after we saw it) or is still in the file.
        string left = File.ReadAllText(Mbox);
        int inFile = left.Split('\n').Count(l => l.StartsWith("From ", StringComparison.Ordinal));
        Assert.Equal(deliveries + 1, expunged + inFile);
        Assert.Equal(inFile, box.Messages.Count);
    }

    [Fact]
    public void Mbox_spool_users_get_the_mbox_inbox_unless_their_Maildir_has_one_or_delivery_writes_Maildir()
    {
        var store = NewStore();
        static string Kind(IMailStore s, string maildir) => s.OpenAccount("u", maildir).GetType().Name;
        // home_mailbox empty and an mbox spool: the spool mbox, also before the first delivery.
        Assert.Equal("MboxInboxAccount", Kind(store.ForConfig("", Spool, Locking), Maildir));
        Deliver(Mbox, "Subject: a\n\nx\n");
        Assert.Equal("MboxInboxAccount", Kind(store.ForConfig("", Spool, Locking), Maildir));
        // home_mailbox set or a Maildir spool: the Maildir store itself.
        Assert.Equal("MaildirAccount", Kind(store.ForConfig("Maildir/", Spool, Locking), Maildir));
        Assert.Equal("MaildirAccount", Kind(store.ForConfig("", Spool + "/", Locking), Maildir));
        // A user name that is not a file name, and a Maildir INBOX that exists, keep Maildir.
        Assert.Equal("MaildirAccount", store.ForConfig("", Spool, Locking).OpenAccount("../u", Maildir).GetType().Name);
        Directory.CreateDirectory(Path.Combine(Maildir, "cur"));
        Assert.Equal("MaildirAccount", Kind(store.ForConfig("", Spool, Locking), Maildir));
    }

    [Fact]
    public async Task Before_the_first_delivery_the_inbox_is_empty_and_APPEND_creates_the_mbox_only_when_not_root()
    {
        var account = Account(NewStore());
        await using (var box = (await account.OpenAsync("INBOX", false, default))!)
            Assert.Empty(box.Messages);
        Assert.False(File.Exists(Mbox));
        var (result, error) = await account.AppendAsync("INBOX", Encoding.ASCII.GetBytes("Subject: x\r\n\r\ny\r\n"), MessageFlags.None, [], null, default);
        if (Environment.UserName == "root")
        {
            // As root the file would not be the user's, and local(8) would refuse it ever after.
            Assert.Equal("CANNOT", error!.Code);
            Assert.False(File.Exists(Mbox));
        }
        else
        {
            Assert.Null(error);
            Assert.Equal(1u, result!.Uid);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Mbox));
            Deliver(Mbox, "Subject: delivered\n\nz\n");
            await using var box = (await account.OpenAsync("INBOX", false, default))!;
            Assert.Equal([1u, 2u], box.Messages.Select(m => m.Uid));
        }
    }

    [Fact]
    public async Task Copy_and_move_between_the_mbox_inbox_and_a_Maildir_folder()
    {
        Deliver(Mbox, "Subject: a\n\nx\n");
        Deliver(Mbox, "Subject: b\n\ny\n");
        var account = Account(NewStore());
        Assert.Null(account.Create("Archive"));
        Assert.Equal(["INBOX", "Archive"], account.ListMailboxes());
        await using (var inbox = (await account.OpenAsync("INBOX", false, default))!)
        {
            var (moved, error) = await inbox.CopyAsync([0], "Archive", move: true, default);
            Assert.Null(error);
            Assert.Equal([1u], moved!.SourceUids);
            Assert.Equal([1], moved.Expunged);
            Assert.Equal([2u], inbox.Messages.Select(m => m.Uid));
        }
        Assert.DoesNotContain("Subject: a", File.ReadAllText(Mbox), StringComparison.Ordinal);
        await using (var archive = (await account.OpenAsync("Archive", false, default))!)
        {
            Assert.Contains("Subject: a", await TextAsync(archive, 0), StringComparison.Ordinal);
            var (back, error) = await archive.CopyAsync([0], "INBOX", move: false, default);
            Assert.Null(error);
            Assert.Equal([3u], back!.TargetUids);
        }
        await using var again = (await account.OpenAsync("INBOX", false, default))!;
        Assert.Equal([2u, 3u], again.Messages.Select(m => m.Uid));
        Assert.Contains("Subject: a", await TextAsync(again, 1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lines_longer_than_the_read_buffer_and_From_lines_at_buffer_edges_are_parsed_exactly()
    {
        var expected = new List<string>();
        var sb = new StringBuilder();
        var rng = new Random(8);
        for (int i = 0; i < 40; i++)
        {
            // Bodies of 1..5000 short lines, some "From " lines, and every fifth message one 200 KB line.
            var body = new StringBuilder();
            int lines = rng.Next(1, 5000);
            for (int l = 0; l < lines; l++)
                body.Append(l % 97 == 0 ? "From inside the body\n" : new string((char)('a' + l % 26), rng.Next(0, 60))).Append('\n');
            if (i % 5 == 0) body.Append(new string('x', 200_000)).Append('\n');
            string message = $"Subject: m{i}\n\n{body}";
            expected.Add(message);
            string quoted = string.Join('\n', message.Split('\n').Select(l => l.StartsWith("From ", StringComparison.Ordinal) ? ">" + l : l));
            sb.Append($"From a@example.test  Tue Nov 25 13:17:08 2026\n{quoted}\n");
        }
        File.WriteAllText(Mbox, sb.ToString());
        await using var box = (await Account(NewStore()).OpenAsync("INBOX", false, default))!;
        Assert.Equal(40, box.Messages.Count);
        for (int i = 0; i < 40; i++)
        {
            string got = await TextAsync(box, i);
            Assert.Equal(expected[i], got);
            Assert.Equal(Encoding.UTF8.GetByteCount(got) + got.Count(c => c == '\n'), box.Messages[i].Size);
        }
    }

    [Fact]
    public async Task A_deleted_index_is_rebuilt_from_the_mbox_with_flags_from_the_headers()
    {
        Deliver(Mbox, "Subject: a\n\nx\n");
        Deliver(Mbox, "Subject: b\n\ny\n");
        await using (var box = (await Account(NewStore()).OpenAsync("INBOX", false, default))!)
            await box.StoreFlagsAsync([1], FlagOperation.Add, MessageFlags.Answered, [], default);
        foreach (var f in Directory.GetFiles(Path.Combine(IndexDir, "u"))) File.Delete(f);
        await using var rebuilt = (await Account(NewStore()).OpenAsync("INBOX", false, default))!;
        Assert.Equal([1u, 2u], rebuilt.Messages.Select(m => m.Uid));
        Assert.Equal(MessageFlags.Answered, rebuilt.Messages[1].Flags);
        Assert.True(File.Exists(Path.Combine(IndexDir, "u", "index.sqlite")));
    }

    [Fact]
    public async Task A_removed_mbox_file_empties_the_inbox_and_new_delivery_starts_it_again()
    {
        Deliver(Mbox, "Subject: a\n\nx\n");
        await using var box = (await Account(NewStore()).OpenAsync("INBOX", false, default))!;
        File.Delete(Mbox);
        var changes = await box.SyncAsync(true, default);
        Assert.Equal([1], changes.Expunged);
        Assert.Empty(box.Messages);
        Deliver(Mbox, "Subject: b\n\ny\n");
        await box.SyncAsync(true, default);
        var m = Assert.Single(box.Messages);
        Assert.Equal(2u, m.Uid);
    }

    [Fact]
    public async Task An_mbox_renamed_into_place_by_another_reader_is_followed_and_rewritten()
    {
        Deliver(Mbox, "Subject: a\n\nx\n");
        Deliver(Mbox, "Subject: b\n\ny\n");
        await using var box = (await Account(NewStore()).OpenAsync("INBOX", false, default))!;
        // As posthorn mail (MboxFile.Rewrite) does: a new file without message 1, renamed over the mbox.
        string text = File.ReadAllText(Mbox);
        string replacement = Path.Combine(Spool, "u.new");
        File.WriteAllText(replacement, text[(text.IndexOf("\nFrom ", StringComparison.Ordinal) + 1)..]);
        File.Move(replacement, Mbox, overwrite: true);
        Deliver(Mbox, "Subject: c\n\nz\n");
        var changes = await box.SyncAsync(true, default);
        Assert.Equal([1], changes.Expunged);
        Assert.Equal([2u, 3u], box.Messages.Select(m => m.Uid));
        await box.StoreFlagsAsync([0], FlagOperation.Add, MessageFlags.Deleted, [], default);
        Assert.Equal([1], await box.ExpungeAsync(null, default));
        string left = File.ReadAllText(Mbox);
        Assert.DoesNotContain("Subject: b", left, StringComparison.Ordinal);
        Assert.Contains("Subject: c", left, StringComparison.Ordinal);
        Assert.Equal([3u], box.Messages.Select(m => m.Uid));
    }

    private static ulong Inode(string path)
    {
        Assert.True(MboxNative.TryLstat(path, out var st, out _));
        return st.Inode;
    }
}
