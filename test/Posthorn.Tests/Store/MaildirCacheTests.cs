using System.Text;
using Posthorn.Store;
using Posthorn.Store.Maildir;
using Xunit;

namespace Posthorn.Tests.Store;

/// <summary>The parse-result cache in the index (cache table of posthorn-index.sqlite), batched reads, and the
/// scan's size and date of new files.</summary>
public sealed class MaildirCacheTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("posthorn-cache-");
    private string Maildir => Path.Combine(_root.FullName, "Maildir");

    public void Dispose() => _root.Delete(recursive: true);

    private void Drop(string name, string text)
    {
        foreach (var d in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(Maildir, d));
        File.WriteAllText(Path.Combine(Maildir, "new", name), text);
    }

    private static MaildirStore NewStore() => new(TimeProvider.System, "test", 1);

    private async Task<IMailbox> OpenAsync() => (await NewStore().OpenAccount("u", Maildir).OpenAsync("INBOX", false, default))!;

    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public async Task A_cached_value_survives_reopening_the_store()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        Drop("2.b", "Subject: b\n\ny\n");
        await using (var box = await OpenAsync())
        {
            Assert.Equal([null, null], await box.GetCachedAsync(box.Messages, "f", default));
            await box.SetCachedAsync([(box.Messages[1], "f", B("two")), (box.Messages[0], "g", B("one-g"))], default);
        }
        await using var again = await OpenAsync();
        var f = await again.GetCachedAsync(again.Messages, "f", default);
        Assert.Null(f[0]);
        Assert.Equal("two", Encoding.ASCII.GetString(f[1]!));
        Assert.Equal("one-g", Encoding.ASCII.GetString((await again.GetCachedAsync([again.Messages[0]], "g", default))[0]!));
    }

    [Fact]
    public async Task The_cache_is_rebuilt_empty_when_the_index_is_deleted()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        await using (var box = await OpenAsync())
            await box.SetCachedAsync([(box.Messages[0], "f", B("old"))], default);
        foreach (var file in Directory.GetFiles(Maildir, "posthorn-index.sqlite*")) File.Delete(file);
        await using var rebuilt = await OpenAsync();
        Assert.Single(rebuilt.Messages);
        Assert.Equal([null], await rebuilt.GetCachedAsync(rebuilt.Messages, "f", default));
    }

    [Fact]
    public async Task A_message_changed_on_disk_under_a_new_name_is_not_answered_from_the_old_cache()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        await using var box = await OpenAsync();
        var old = box.Messages[0];
        await box.SetCachedAsync([(old, "f", B("old"))], default);
        // mutt edits a message by writing a new file and removing the old one (Maildir files never change in place).
        File.Delete(Path.Combine(Maildir, "cur", "1.a:2,"));
        Drop("2.a-edited", "Subject: edited\n\nx\n");
        Directory.SetLastWriteTimeUtc(Path.Combine(Maildir, "cur"), DateTime.UtcNow.AddSeconds(5));
        Directory.SetLastWriteTimeUtc(Path.Combine(Maildir, "new"), DateTime.UtcNow.AddSeconds(5));
        await box.SyncAsync(true, default);
        var now = Assert.Single(box.Messages);
        Assert.NotEqual(old.Uid, now.Uid);
        Assert.Equal([null], await box.GetCachedAsync(box.Messages, "f", default));
        Assert.Equal("Subject: edited\n\nx\n", Encoding.ASCII.GetString((await box.ReadAsync(now, default))!));
        // The expunged UID's value is gone from the index, not only hidden.
        Assert.Equal([null], await box.GetCachedAsync([old], "f", default));
    }

    [Fact]
    public async Task Read_many_keeps_the_order_follows_a_rename_and_gives_null_for_a_gone_message()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        Drop("2.b", "Subject: b\n\ny\n");
        Drop("3.c", "Subject: c\n\nz\n");
        await using var box = await OpenAsync();
        var m = box.Messages.ToList();
        File.Move(Path.Combine(Maildir, "cur", "2.b:2,"), Path.Combine(Maildir, "cur", "2.b:2,S"));
        File.Delete(Path.Combine(Maildir, "cur", "3.c:2,"));
        Directory.SetLastWriteTimeUtc(Path.Combine(Maildir, "cur"), DateTime.UtcNow.AddSeconds(5));
        var read = await box.ReadManyAsync([m[2], m[1], m[0]], default);
        Assert.Null(read[0]);
        Assert.Equal("Subject: b\n\ny\n", Encoding.ASCII.GetString(read[1]!));
        Assert.Equal("Subject: a\n\nx\n", Encoding.ASCII.GetString(read[2]!));
    }

    [Fact]
    public async Task The_scan_estimates_size_and_date_from_the_name_and_resolve_makes_them_exact_once()
    {
        // The names lie on purpose (S=3, a time in 2001): the first scan reports them as estimates, which shows it
        // did not measure the files; ResolveAsync then reads the truth (W= is trusted, it is the CRLF size itself).
        Drop("1000000000.a,S=3,W=99", "Subject: a\n\nx\n");
        Drop("1000000001.b,S=3", "Subject: b\r\n\ny\n");
        Drop("c", "Subject: c\n\nz\n");
        var date = new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        foreach (var f in Directory.GetFiles(Path.Combine(Maildir, "new"))) File.SetLastWriteTimeUtc(f, date);
        await using (var box = await OpenAsync())
        {
            Assert.All(box.Messages, m => Assert.True(m.Estimated));
            Assert.Equal([99L, 3L, 14L], box.Messages.Select(m => m.Size));
            Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1000000001), box.Messages[1].InternalDate);
            ulong modseq = box.HighestModSeq;
            var exact = await box.ResolveAsync([box.Messages[0], box.Messages[1]], default);
            Assert.Equal(99, exact[0].Size);
            Assert.Equal(Encoding.ASCII.GetByteCount("Subject: b\r\n\r\ny\r\n"), exact[1].Size);
            Assert.All(exact, m => Assert.Equal(new DateTimeOffset(date), m.InternalDate));
            Assert.All(exact, m => Assert.False(m.Estimated));
            // The view takes the exact values; learning them is not a change a client is told about.
            Assert.Equal(exact, box.Messages.Take(2));
            Assert.True(box.Messages[2].Estimated);
            Assert.Equal(modseq, box.HighestModSeq);
            Assert.True((await box.SyncAsync(true, default)).IsEmpty);
        }
        // Kept in the index: a new process sees the exact values without reading the files again.
        await using var again = await OpenAsync();
        Assert.Equal([99L, 17L, 14L], again.Messages.Select(m => m.Size));
        Assert.Equal([false, false, true], again.Messages.Select(m => m.Estimated));
    }

    [Theory]
    [InlineData("1.a:2,FRS", MessageFlags.Flagged | MessageFlags.Answered | MessageFlags.Seen, "")]
    [InlineData("1.a:2,aSb", MessageFlags.Seen, "ab")]
    [InlineData("1.a:1,S", MessageFlags.None, "")]
    [InlineData("1.a", MessageFlags.None, "")]
    public void Flags_and_other_letters_come_from_the_name_without_a_base_string(string name, MessageFlags flags, string other)
    {
        Assert.Equal(flags, MaildirName.FlagsOf(name, out string rest));
        Assert.Equal(other, rest);
        Assert.Equal(("1.a", flags, other), MaildirName.Parse(name));
    }

    [Fact]
    public async Task The_scan_lists_mail_files_only_not_dot_files_or_directories()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        File.WriteAllText(Path.Combine(Maildir, "cur", "2.b:2,S"), "Subject: b\n\ny\n");
        File.WriteAllText(Path.Combine(Maildir, "new", ".hidden"), "x");
        Directory.CreateDirectory(Path.Combine(Maildir, "cur", "sub:2,S"));
        await using var box = await OpenAsync();
        Assert.Equal([MessageFlags.None, MessageFlags.Seen], box.Messages.Select(m => m.Flags));
        Assert.Equal(["1.a", "2.b"], box.Messages.Select(m => m.Key));
    }

    [Fact]
    public async Task A_read_makes_estimated_records_exact_from_the_same_bytes_and_the_cache_write_keeps_them()
    {
        Drop("1000000000.a,S=3", "Subject: a\n\nx\n");
        Drop("1000000001.b,S=3", "Subject: b\r\n\r\nyy\n");
        var date = new DateTime(2021, 5, 6, 7, 8, 9, DateTimeKind.Utc);
        foreach (var f in Directory.GetFiles(Path.Combine(Maildir, "new"))) File.SetLastWriteTimeUtc(f, date);
        await using (var box = await OpenAsync())
        {
            var read = await box.ReadManyAsync(box.Messages, default);
            Assert.Equal("Subject: a\n\nx\n", Encoding.ASCII.GetString(read[0]!));
            // The files are gone now: exact values can only come from the read above, not from a second one.
            foreach (var f in Directory.GetFiles(Path.Combine(Maildir, "new"))) File.Delete(f);
            var exact = await box.ResolveAsync(box.Messages, default);
            Assert.Equal([17L, 18L], exact.Select(m => m.Size));
            Assert.All(exact, m => Assert.False(m.Estimated));
            Assert.All(exact, m => Assert.Equal(new DateTimeOffset(date), m.InternalDate));
            Assert.Equal(exact, box.Messages);
            await box.SetCachedAsync([(box.Messages[0], "f", B("one")), (box.Messages[0], "g", B("one-g")),
                (box.Messages[1], "f", B("two"))], default);
        }
        // The cache write carried the learned rows (read straight from the index: a scan would expunge the deleted files).
        using var index = new MaildirIndex(Maildir);
        var rows = index.ReadAll();
        Assert.Equal([17L, 18L], rows.Select(r => r.Size));
        Assert.All(rows, r => Assert.False(r.Estimated));
        Assert.Equal(["one", "two"], index.ReadCache("f", [1, 2]).OrderBy(kv => kv.Key).Select(kv => Encoding.ASCII.GetString(kv.Value)));
        Assert.Equal("one-g", Encoding.ASCII.GetString(index.ReadCache("g", [1])[1]));
    }

    [Fact]
    public async Task An_idle_folder_kept_loaded_still_sees_deliveries_index_loss_and_a_recreated_mailbox()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        var store = NewStore();
        var account = store.OpenAccount("u", Maildir);
        uint validity;
        await using (var box = (await account.OpenAsync("INBOX", false, default))!) validity = box.UidValidity;
        // Delivered while no session has the folder open: the next open sees it.
        Drop("2.b", "Subject: b\n\ny\n");
        Directory.SetLastWriteTimeUtc(Path.Combine(Maildir, "new"), DateTime.UtcNow.AddSeconds(5));
        await using (var box = (await account.OpenAsync("INBOX", false, default))!)
        {
            Assert.Equal([1u, 2u], box.Messages.Select(m => m.Uid));
            await box.SetCachedAsync([(box.Messages[0], "f", B("v"))], default);
        }
        // The index deleted while idle: rebuilt with a new UIDVALIDITY and no cached values.
        foreach (var file in Directory.GetFiles(Maildir, "posthorn-index.sqlite*")) File.Delete(file);
        await using (var box = (await account.OpenAsync("INBOX", false, default))!)
        {
            Assert.Equal(2, box.Messages.Count);
            Assert.NotEqual(0u, box.UidValidity);
            Assert.Equal([null, null], await box.GetCachedAsync(box.Messages, "f", default));
        }
        // DELETE and CREATE of a folder with the same name give an empty mailbox, not the old loaded one.
        Assert.Null(account.Create("Work"));
        await using (var inbox = (await account.OpenAsync("INBOX", false, default))!)
            Assert.Null((await inbox.CopyAsync([0], "Work", move: false, default)).Error);
        await using (var work = (await account.OpenAsync("Work", false, default))!) Assert.Single(work.Messages);
        Assert.Null(account.Delete("Work"));
        Assert.Null(account.Create("Work"));
        await using (var work = (await account.OpenAsync("Work", false, default))!) Assert.Empty(work.Messages);
    }

    [Fact]
    public async Task A_reopened_index_lists_the_directories_only_when_their_times_changed()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        await using (var box = await OpenAsync()) Assert.Single(box.Messages);
        // Reconcile once more so that the recorded times are those of the directories as they are now.
        await using (var box = await OpenAsync()) Assert.Single(box.Messages);
        string newDir = Path.Combine(Maildir, "new");
        var recorded = Directory.GetLastWriteTimeUtc(newDir);
        Drop("2.b", "Subject: b\n\ny\n");
        Directory.SetLastWriteTimeUtc(newDir, recorded);
        // Same times as recorded in the index: a new process trusts the index and does not list new/ ...
        await using (var box = await OpenAsync()) Assert.Single(box.Messages);
        // ... and lists it as soon as new/ changed.
        Directory.SetLastWriteTimeUtc(newDir, recorded.AddSeconds(5));
        await using (var box = await OpenAsync()) Assert.Equal(2, box.Messages.Count);
    }

    [Fact]
    public async Task A_read_only_open_leaves_new_files_in_new_and_a_read_write_one_moves_them()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        var account = NewStore().OpenAccount("u", Maildir);
        await using (var box = (await account.OpenAsync("INBOX", true, default))!)
        {
            Assert.Single(box.Messages);
            Assert.True(File.Exists(Path.Combine(Maildir, "new", "1.a")));
            Assert.Equal("Subject: a\n\nx\n", Encoding.ASCII.GetString((await box.ReadAsync(box.Messages[0], default))!));
        }
        Directory.SetLastWriteTimeUtc(Path.Combine(Maildir, "new"), DateTime.UtcNow.AddSeconds(5));
        await using (var box = (await account.OpenAsync("INBOX", false, default))!)
        {
            Assert.Equal(1u, Assert.Single(box.Messages).Uid);
            Assert.True(File.Exists(Path.Combine(Maildir, "cur", "1.a:2,")));
            await box.StoreFlagsAsync([0], FlagOperation.Add, MessageFlags.Seen, [], default);
        }
        Assert.True(File.Exists(Path.Combine(Maildir, "cur", "1.a:2,S")));
    }

    [Theory]
    [InlineData("a\nb\r\nc\n", 1)]
    [InlineData("a\nb\r\nc\n", 2)]
    [InlineData("a\r\n\r\n\n", 2)]
    [InlineData("\n\n", 1)]
    public void Crlf_size_is_the_same_however_the_data_is_split(string text, int split)
    {
        var data = Encoding.ASCII.GetBytes(text);
        byte prev = 0;
        long whole = MaildirName.CrlfSize(data, ref prev);
        long expected = data.Length + Enumerable.Range(0, data.Length).Count(i => data[i] == '\n' && (i == 0 || data[i - 1] != '\r'));
        Assert.Equal(expected, whole);
        prev = 0;
        long parts = MaildirName.CrlfSize(data.AsSpan(0, split), ref prev) + MaildirName.CrlfSize(data.AsSpan(split), ref prev);
        Assert.Equal(expected, parts);
    }
}
