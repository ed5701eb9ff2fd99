using System.Text;
using Posthorn.Store;
using Posthorn.Store.Maildir;
using Xunit;

namespace Posthorn.Tests.Store;

public sealed class MaildirStoreTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("posthorn-store-");
    private string Maildir => Path.Combine(_root.FullName, "Maildir");

    public void Dispose() => _root.Delete(recursive: true);

    private void Drop(string name, string text)
    {
        foreach (var d in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(Maildir, d));
        File.WriteAllText(Path.Combine(Maildir, "new", name), text);
    }

    private static MaildirStore NewStore() => new(TimeProvider.System, "test", 1);

    [Fact]
    public async Task Uids_stay_the_same_after_reopening_the_store()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        Drop("2.b", "Subject: b\n\ny\n");
        uint validity;
        uint[] uids;
        await using (var box = (await NewStore().OpenAccount("u", Maildir).OpenAsync("INBOX", false, default))!)
        {
            validity = box.UidValidity;
            uids = box.Messages.Select(m => m.Uid).ToArray();
            Assert.Equal([1u, 2u], uids);
            // Seen messages move from new/ to cur/ with an empty info part.
            Assert.True(File.Exists(Path.Combine(Maildir, "cur", "1.a:2,")));
        }
        Drop("3.c", "Subject: c\n\nz\n");
        await using var again = (await NewStore().OpenAccount("u", Maildir).OpenAsync("INBOX", false, default))!;
        Assert.Equal(validity, again.UidValidity);
        Assert.Equal([1u, 2u, 3u], again.Messages.Select(m => m.Uid));
        Assert.Equal(4u, again.UidNext);
    }

    [Fact]
    public async Task Index_is_rebuilt_from_the_files_after_deletion_with_flags_from_the_names()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        var store = NewStore();
        await using (var box = (await store.OpenAccount("u", Maildir).OpenAsync("INBOX", false, default))!)
            await box.StoreFlagsAsync([0], FlagOperation.Add, MessageFlags.Seen | MessageFlags.Flagged, [], default);
        Assert.True(File.Exists(Path.Combine(Maildir, "cur", "1.a:2,FS")));
        foreach (var f in Directory.GetFiles(Maildir, "posthorn-index.sqlite*")) File.Delete(f);
        await using var rebuilt = (await NewStore().OpenAccount("u", Maildir).OpenAsync("INBOX", false, default))!;
        var m = Assert.Single(await rebuilt.ResolveAsync(rebuilt.Messages, default));
        Assert.Equal(MessageFlags.Seen | MessageFlags.Flagged, m.Flags);
        Assert.Equal(Encoding.ASCII.GetByteCount("Subject: a\r\n\r\nx\r\n"), m.Size);
        Assert.True(File.Exists(Path.Combine(Maildir, "posthorn-index.sqlite")));
    }

    [Fact]
    public async Task A_rename_by_mutt_changes_the_flags_and_bumps_the_modseq()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        await using var box = (await NewStore().OpenAccount("u", Maildir).OpenAsync("INBOX", false, default))!;
        ulong before = box.Messages[0].ModSeq;
        File.Move(Path.Combine(Maildir, "cur", "1.a:2,"), Path.Combine(Maildir, "cur", "1.a:2,RS"));
        // Directory mtimes can be equal within one clock tick; touch cur/ as a later delivery would.
        Directory.SetLastWriteTimeUtc(Path.Combine(Maildir, "cur"), DateTime.UtcNow.AddSeconds(5));
        var changes = await box.SyncAsync(true, default);
        Assert.Equal([0], changes.FlagsChanged);
        Assert.Equal(MessageFlags.Seen | MessageFlags.Answered, box.Messages[0].Flags);
        Assert.True(box.Messages[0].ModSeq > before);
    }

    [Fact]
    public async Task Expunges_by_another_view_are_held_back_until_allowed()
    {
        Drop("1.a", "Subject: a\n\nx\n");
        Drop("2.b", "Subject: b\n\ny\n");
        var account = NewStore().OpenAccount("u", Maildir);
        await using var one = (await account.OpenAsync("INBOX", false, default))!;
        await using var two = (await account.OpenAsync("INBOX", false, default))!;
        await one.StoreFlagsAsync([0], FlagOperation.Add, MessageFlags.Deleted, [], default);
        Assert.Equal([1], await one.ExpungeAsync(null, default));
        var held = await two.SyncAsync(false, default);
        Assert.Empty(held.Expunged);
        Assert.Equal(2, two.Messages.Count);
        var allowed = await two.SyncAsync(true, default);
        Assert.Equal([1], allowed.Expunged);
        Assert.Single(two.Messages);
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData("~root")]
    [InlineData(".hidden")]
    [InlineData("x\0y")]
    public void Bad_mailbox_names_are_refused(string name)
    {
        var account = NewStore().OpenAccount("u", Maildir);
        Assert.NotNull(account.Create(name));
    }

    [Fact]
    public void Create_makes_maildirplusplus_folders_and_rename_moves_children()
    {
        var account = NewStore().OpenAccount("u", Maildir);
        Assert.Null(account.Create("Lists.dev"));
        Assert.True(Directory.Exists(Path.Combine(Maildir, ".Lists", "cur")));
        Assert.True(File.Exists(Path.Combine(Maildir, ".Lists.dev", "maildirfolder")));
        Assert.Null(account.Rename("Lists", "Groups"));
        Assert.Equal(["INBOX", "Groups", "Groups.dev"], account.ListMailboxes());
        Assert.Equal("ALREADYEXISTS", account.Create("Groups")!.Code);
    }
}
