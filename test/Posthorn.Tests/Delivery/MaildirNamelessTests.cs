using System.Text;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>MaildirFile's two ways into new/: a nameless file (O_TMPFILE) linked once durable, and tmp/ plus rename(2).
/// Both must leave a whole message under its final name or nothing at all.</summary>
public sealed class MaildirNamelessTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("posthorn-maildir-");
    private string Maildir => Path.Combine(_root.FullName, "Maildir");

    public void Dispose() => _root.Delete(recursive: true);

    private static Func<int, long> Writes(byte[] content) => fd =>
    {
        Assert.True(LibC.TryWriteAll(fd, content, 0, out int errno), $"write: errno {errno}");
        return content.Length;
    };

    private string[] Files(string sub) => Directory.GetFiles(Path.Combine(Maildir, sub));

    [Fact]
    public void A_nameless_file_gets_its_name_in_new_only_whole_and_tmp_stays_empty()
    {
        byte[] content = Encoding.ASCII.GetBytes("Subject: nameless\n\n" + new string('x', 100_000) + "\n");
        string? path = MaildirFile.DeliverNameless(Maildir, "1700000000.M1P2Q3.host", Writes(content));

        // The test file systems (ext4, tmpfs) make nameless files: null here would mean the tmp/ way was taken.
        Assert.Equal(Path.Combine(Maildir, "new", $"1700000000.M1P2Q3.host,S={content.Length}"), path);
        Assert.Equal(content, File.ReadAllBytes(path!));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path!));
        Assert.Empty(Files("tmp"));
        Assert.Single(Files("new"));
    }

    [Fact]
    public void A_write_that_fails_leaves_no_file_in_new_or_tmp()
    {
        Func<int, long> full = _ => throw new DeliveryIOException(LibC.ENOSPC, "error writing message");
        var nameless = Assert.Throws<MboxFile.Failure>(() => MaildirFile.DeliverNameless(Maildir, "1700000000.M1P2Q4.host", full));
        var tmp = Assert.Throws<MboxFile.Failure>(() => MaildirFile.DeliverThroughTmp(Maildir, "1700000000.M1P2Q5.host", full));
        Assert.Equal(LibC.ENOSPC, nameless.Errno);
        Assert.Equal(LibC.ENOSPC, tmp.Errno);
        Assert.Empty(Files("new"));
        Assert.Empty(Files("tmp"));
    }

    [Fact]
    public void An_existing_name_is_never_replaced()
    {
        byte[] content = Encoding.ASCII.GetBytes("Subject: second\n\nbody\n");
        foreach (var sub in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(Maildir, sub));
        string taken = Path.Combine(Maildir, "new", $"1700000000.M1P2Q6.host,S={content.Length}");
        File.WriteAllText(taken, "the first message\n");

        var e = Assert.Throws<MboxFile.Failure>(() => MaildirFile.DeliverNameless(Maildir, "1700000000.M1P2Q6.host", Writes(content)));
        Assert.Equal(LibC.EEXIST, e.Errno);
        Assert.Equal("the first message\n", File.ReadAllText(taken));
        Assert.Single(Files("new"));
        Assert.Empty(Files("tmp"));
    }

    [Fact]
    public void The_tmp_way_renames_a_whole_file_into_new()
    {
        byte[] content = Encoding.ASCII.GetBytes("Subject: through tmp\n\nbody\n");
        string path = MaildirFile.DeliverThroughTmp(Maildir, "1700000000.M1P2Q7.host", Writes(content));
        Assert.Equal(Path.Combine(Maildir, "new", $"1700000000.M1P2Q7.host,S={content.Length}"), path);
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Empty(Files("tmp"));
    }
}
