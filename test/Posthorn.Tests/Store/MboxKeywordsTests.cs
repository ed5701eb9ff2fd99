using System.Text;
using Microsoft.Data.Sqlite;
using Posthorn.Store;
using Posthorn.Store.Maildir;
using Posthorn.Store.Mbox;
using Xunit;

namespace Posthorn.Tests.Store;

/// <summary>IMAP keywords of the mbox INBOX live in the file as Dovecot writes them, an <c>X-Keywords:</c> header
/// beside Status/X-Status, so they survive a lost index and other mbox readers see them.</summary>
public sealed class MboxKeywordsTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("posthorn-mbox-kw-");
    private string Spool => Path.Combine(_root.FullName, "mail");
    private string Mbox => Path.Combine(Spool, "u");
    private string IndexDir => Path.Combine(_root.FullName, "data", "imapd-mbox");

    public MboxKeywordsTests() => Directory.CreateDirectory(Spool);

    public void Dispose() => _root.Delete(recursive: true);

    private static readonly MboxLockOptions Locking = new(500, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(500));

    private IMailAccount Account() =>
        new MboxInboxStore(new MaildirStore(TimeProvider.System, "test", 1), TimeProvider.System, IndexDir)
            .ForConfig("", Spool, Locking).OpenAccount("u", Path.Combine(_root.FullName, "home", "Maildir"));

    private async Task<IMailbox> OpenAsync() => (await Account().OpenAsync("INBOX", false, default))!;

    private void DeleteIndex()
    {
        foreach (var f in Directory.GetFiles(Path.Combine(IndexDir, "u"))) File.Delete(f);
    }

    [Fact]
    public async Task Keywords_stored_over_IMAP_are_written_as_X_Keywords_and_read_back_by_a_new_index()
    {
        MboxInboxTests.Deliver(Mbox, "Subject: a\n\nx\n");
        MboxInboxTests.Deliver(Mbox, "Subject: b\n\ny\n");
        await using (var box = await OpenAsync())
        {
            await box.StoreFlagsAsync([0], FlagOperation.Add, MessageFlags.Seen, ["$Label1", "Junk"], default);
            // Only in the index until the mailbox is closed (as flags are).
            Assert.DoesNotContain("X-Keywords", File.ReadAllText(Mbox), StringComparison.Ordinal);
        }
        string text = File.ReadAllText(Mbox);
        Assert.Contains("Subject: a\nStatus: R\nX-Keywords: $Label1 Junk\n\nx\n", text, StringComparison.Ordinal);
        Assert.Equal(1, CountOf(text, "X-Keywords:"));

        DeleteIndex();
        await using (var box = await OpenAsync())
        {
            Assert.Equal(["$Label1", "Junk"], box.Messages[0].Keywords);
            Assert.Empty(box.Messages[1].Keywords);
            Assert.Equal(MessageFlags.Seen, box.Messages[0].Flags);
            // The header is state, not content: it is not served.
            string served = Encoding.UTF8.GetString((await box.ReadAsync(box.Messages[0], default))!);
            Assert.DoesNotContain("X-Keywords", served, StringComparison.Ordinal);

            await box.StoreFlagsAsync([0], FlagOperation.Remove, MessageFlags.None, ["junk"], default);
            await box.StoreFlagsAsync([1], FlagOperation.Add, MessageFlags.None, ["NonJunk"], default);
        }
        text = File.ReadAllText(Mbox);
        Assert.Contains("Subject: a\nStatus: R\nX-Keywords: $Label1\n\nx\n", text, StringComparison.Ordinal);
        Assert.Contains("Subject: b\nX-Keywords: NonJunk\n\ny\n", text, StringComparison.Ordinal);
        Assert.Equal(2, CountOf(text, "X-Keywords:"));
    }

    [Fact]
    public async Task A_folded_X_Keywords_header_written_by_another_program_gives_its_atoms_as_keywords_and_its_changes_win()
    {
        File.WriteAllText(Mbox, "From a@example.test  Mon Jan  5 10:00:00 2026\nSubject: one\nX-Keywords: work \\Seen\n\tlater  urgent (x)\n\nbody\n\n"
            + "From b@example.test  Mon Jan  5 10:01:00 2026\nSubject: two\n\nbody\n\n");
        uint uid;
        await using (var box = await OpenAsync())
        {
            Assert.Equal(["work", "later", "urgent"], box.Messages[0].Keywords);
            Assert.Empty(box.Messages[1].Keywords);
            uid = box.Messages[0].Uid;
        }

        // Another program rewrites the header (and adds one to the second message): the file wins, UIDs stay.
        File.WriteAllText(Mbox, "From a@example.test  Mon Jan  5 10:00:00 2026\nSubject: one\nX-Keywords: done\n\nbody\n\n"
            + "From b@example.test  Mon Jan  5 10:01:00 2026\nSubject: two\nX-Keywords: new\n\nbody\n\n");
        await using (var box = await OpenAsync())
        {
            Assert.Equal(uid, box.Messages[0].Uid);
            Assert.Equal(["done"], box.Messages[0].Keywords);
            Assert.Equal(["new"], box.Messages[1].Keywords);
        }
    }

    [Fact]
    public async Task Append_with_keywords_writes_them_with_the_message()
    {
        MboxInboxTests.Deliver(Mbox, "Subject: a\n\nx\n");
        var (result, error) = await Account().AppendAsync("INBOX", Encoding.ASCII.GetBytes("Subject: draft\r\nX-Keywords: forged\r\n\r\ntext\r\n"),
            MessageFlags.Draft, ["$Forwarded"], null, default);
        Assert.Null(error);
        string text = File.ReadAllText(Mbox);
        Assert.Contains("Subject: draft\nX-Status: T\nX-Keywords: $Forwarded\n\ntext\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("forged", text, StringComparison.Ordinal);
        DeleteIndex();
        await using var box = await OpenAsync();
        Assert.Equal(result!.Uid, box.Messages[1].Uid);
        Assert.Equal(["$Forwarded"], box.Messages[1].Keywords);
    }

    [Fact]
    public async Task An_index_made_before_keywords_were_kept_in_the_file_is_upgraded_in_place()
    {
        MboxInboxTests.Deliver(Mbox, "Subject: a\n\nx\n");
        uint validity;
        await using (var box = await OpenAsync()) validity = box.UidValidity;
        string index = Path.Combine(IndexDir, "u", "index.sqlite");
        using (var db = new SqliteConnection($"Data Source={index};Pooling=False"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "ALTER TABLE msg DROP COLUMN filekeywords";
            cmd.ExecuteNonQuery();
        }
        await using (var box = await OpenAsync())
        {
            Assert.Equal(validity, box.UidValidity);
            await box.StoreFlagsAsync([0], FlagOperation.Add, MessageFlags.None, ["kept"], default);
        }
        Assert.Contains("X-Keywords: kept\n", File.ReadAllText(Mbox), StringComparison.Ordinal);
    }

    private static int CountOf(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
