using Xunit;

namespace Posthorn.Tests.Mua;

/// <summary>posthorn mail over a Maildir: mail_spool_directory ending in "/", home_mailbox, or -f DIR.</summary>
public sealed class MaildirReadTests : IDisposable
{
    private readonly MuaFixture _f = new();

    public void Dispose() => _f.Dispose();

    private string MakeMaildir(string root)
    {
        foreach (string sub in new[] { "new", "cur", "tmp" }) Directory.CreateDirectory(Path.Combine(root, sub));
        Write(Path.Combine(root, "cur", "1700000000.M1P1.host:2,S"), "From: alice@example.test\nSubject: old one\n\nread before\n", 1_700_000_000);
        Write(Path.Combine(root, "new", "1700000100.M2P1.host"), "Return-Path: <carol@example.test>\nFrom: Carol <carol@example.test>\nSubject: fresh\nDate: Wed, 26 Nov 2025 09:05:44 +0000\n\nnew body\n", 1_700_000_100);
        return root;
    }

    private static void Write(string path, string text, long unixTime)
    {
        File.WriteAllText(path, text);
        File.SetLastWriteTimeUtc(path, DateTimeOffset.FromUnixTimeSeconds(unixTime).UtcDateTime);
    }

    [Fact]
    public void Home_mailbox_Maildir_is_listed_printed_and_deletions_remove_files()
    {
        string md = MakeMaildir(Path.Combine(_f.Dir, "home", "bob", "Maildir"));
        var ctx = _f.Context("h\np 2\nd 1\nq\n", homeMailbox: "Maildir/");
        Assert.Equal(0, Posthorn.Mua.MailProgram.Run([], ctx));
        string o = _f.Out.ToString();
        Assert.Contains("2 messages 1 new", o);
        Assert.Contains("    1 alice@example.test", o);
        Assert.Contains(">N  2 carol@example.test    Wed Nov 26 09:05", o);
        Assert.Contains("Message 2:\nFrom carol@example.test ", o);
        Assert.Contains("\nnew body\n", o);
        Assert.Empty(Directory.GetFiles(Path.Combine(md, "cur")));
        Assert.Single(Directory.GetFiles(Path.Combine(md, "new")));
    }

    [Fact]
    public void Spool_directory_ending_in_slash_means_Maildir_and_x_keeps_files()
    {
        MakeMaildir(Path.Combine(_f.Dir, "spool", "bob"));
        var ctx = _f.Context("d *\nx\n", spool: Path.Combine(_f.Dir, "spool") + "/");
        Assert.Equal(0, Posthorn.Mua.MailProgram.Run([], ctx));
        Assert.Contains("2 messages", _f.Out.ToString());
        Assert.Equal(2, Directory.GetFiles(Path.Combine(_f.Dir, "spool", "bob"), "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public void Dash_f_opens_a_Maildir_and_save_writes_mbox_with_quoting()
    {
        string md = MakeMaildir(Path.Combine(_f.Dir, "other"));
        File.AppendAllText(Directory.GetFiles(Path.Combine(md, "new"))[0], "From here on\n");
        string saved = Path.Combine(_f.Dir, "saved");
        Assert.Equal(0, _f.Run($"s 2 {saved}\nx\n", "-f", md));
        string mbox = File.ReadAllText(saved);
        Assert.StartsWith("From carol@example.test ", mbox);
        Assert.EndsWith("\nnew body\n>From here on\n\n", mbox);
    }
}
