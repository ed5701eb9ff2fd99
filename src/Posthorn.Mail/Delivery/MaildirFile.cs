using System.Globalization;
using System.Text;

namespace Posthorn.Mail.Delivery;

/// <summary>Delivers one message into a Maildir: write <c>tmp/NAME</c>, fsync, rename to
/// <c>new/NAME</c>, fsync <c>new/</c>. Postfix local(8) maildir.c and the Maildir
/// convention (cr.yp.to/proto/maildir.html).</summary>
/// <remarks>
/// Where the kernel and file system make nameless files (open(2) O_TMPFILE: Linux 3.11 and later on ext4, xfs,
/// btrfs, tmpfs), the file is written without a name in new/ and, once complete and fsynced, linked there under its
/// final name: what the convention's tmp/ and rename(2) guarantee (a reader sees a whole message or none, a name is
/// never reused), with one directory entry made instead of one made, moved and removed; the rename was a tenth of
/// the daemon's file system CPU under SMTP load (perf, issue 9). A failed or interrupted delivery leaves nothing, not
/// even a file in tmp/. Elsewhere tmp/ and rename(2), as Postfix does.
/// The unique name is <c>SECONDS.M&lt;usec&gt;P&lt;pid&gt;Q&lt;counter&gt;.HOST</c>, with "/" and ":"
/// in the host written as \057 and \072 as the convention asks; the file in new/ adds <c>,S=SIZE</c>
/// (its size in bytes, the Maildir++ extension Dovecot and Courier read to skip a stat). Missing <c>tmp</c>, <c>new</c>
/// and <c>cur</c> directories are created (mode 0700) when the open or the rename finds them missing. Runs on the delivery thread as the
/// recipient, so the user's own permissions are the only ones used.
/// Parameters: home_mailbox (ending in "/"), mailbox_size_limit (per file).
/// </remarks>
internal static class MaildirFile
{
    /// <summary>Writes the message; throws <see cref="MboxFile.Failure"/> with Postfix's text.</summary>
    /// <returns>The path of the delivered file in <c>new/</c>: <c>NAME,S=SIZE</c>.</returns>
    public static string Deliver(string maildir, string uniqueName, Func<int, long> write)
    {
        string dir = maildir.TrimEnd('/');
        if (Volatile.Read(ref s_nameless) && DeliverNameless(dir, uniqueName, write) is { } delivered) return delivered;
        return DeliverThroughTmp(dir, uniqueName, write);
    }

    /// <summary>False once this process met a file system without O_TMPFILE, or a kernel that would not link one:
    /// from then on every delivery goes through tmp/.</summary>
    private static bool s_nameless = true;

    /// <summary>The message written as a nameless file in new/ and linked there once durable; null when nameless files
    /// cannot be made here (nothing was written: the caller goes through tmp/).</summary>
    internal static string? DeliverNameless(string dir, string uniqueName, Func<int, long> write)
    {
        string newDir = dir + "/new";
        int fd = OpenMaking(dir, newDir, LibC.O_WRONLY | LibC.O_TMPFILE | LibC.O_NOCTTY, out int errno);
        if (fd < 0 && errno is LibC.EOPNOTSUPP or LibC.EISDIR or LibC.EINVAL)
        {
            Volatile.Write(ref s_nameless, false);   // open(2): "The filesystem containing pathname does not support O_TMPFILE"
            return null;
        }
        if (fd < 0) throw new MboxFile.Failure(errno, $"create maildir file {dir}/tmp/{uniqueName}: {LibC.StrError(errno)}");
        try
        {
            string target = WriteDurably(fd, newDir, uniqueName, write);
            // The name appears only now, on a complete and durable file; linkat(2) never replaces an existing name.
            if (LibC.LinkNameless(fd, target) < 0)
            {
                int e = LibC.Errno;
                // Without /proc, or a kernel that refuses the link: this delivery is retried later, through tmp/.
                if (e is not (LibC.EEXIST or LibC.ENOSPC or LibC.EDQUOT)) Volatile.Write(ref s_nameless, false);
                throw new MboxFile.Failure(e, $"create maildir file {target}: {LibC.StrError(e)}");
            }
            SyncNew(newDir);
            return target;
        }
        finally
        {
            LibC.close(fd);   // an unlinked nameless file goes with its last descriptor
        }
    }

    /// <summary>The convention's way: <c>tmp/NAME</c>, fsync, rename to <c>new/NAME,S=SIZE</c>.</summary>
    internal static string DeliverThroughTmp(string dir, string uniqueName, Func<int, long> write)
    {
        string tmp = $"{dir}/tmp/{uniqueName}";
        int fd = OpenMaking(dir, tmp, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW | LibC.O_NOCTTY, out int errno);
        if (fd < 0) throw new MboxFile.Failure(errno, $"create maildir file {tmp}: {LibC.StrError(errno)}");
        bool done = false;
        string target = "";
        try
        {
            try
            {
                target = WriteDurably(fd, dir + "/new", uniqueName, write);
            }
            finally
            {
                LibC.close(fd);
            }
            int renamed = LibC.rename(tmp, target);
            if (renamed < 0 && LibC.Errno == LibC.ENOENT)
            {
                // Postfix maildir.c: new/ (or cur/) went missing after tmp/ was there: make them and try again.
                MakeDirectories(dir);
                renamed = LibC.rename(tmp, target);
            }
            if (renamed < 0)
            {
                int e = LibC.Errno;
                throw new MboxFile.Failure(e, $"create maildir file {target}: {LibC.StrError(e)}");
            }
            done = true;
            SyncNew(dir + "/new");
            return target;
        }
        finally
        {
            if (!done) LibC.unlink(tmp);
        }
    }

    /// <summary>Writes the message with <paramref name="write"/> and fsyncs it; returns its name in new/,
    /// <c>NAME,S=SIZE</c>. A write or fsync error becomes Postfix's failure text.</summary>
    private static string WriteDurably(int fd, string newDir, string uniqueName, Func<int, long> write)
    {
        try
        {
            long size = write(fd);
            string target = string.Create(CultureInfo.InvariantCulture, $"{newDir}/{uniqueName},S={size}");
            if (LibC.fsync(fd) < 0) throw new DeliveryIOException(LibC.Errno, "error writing message");
            return target;
        }
        catch (DeliveryIOException e)
        {
            throw new MboxFile.Failure(e.Errno, e.Message);
        }
    }

    /// <summary>The new name is durable only once the directory is: fsync new/, shared with the deliveries that add
    /// names to it at the same time. A failure is not the delivery's: the file is there.</summary>
    private static void SyncNew(string newDir)
    {
        try
        {
            Queue.DirectorySync.Shared(newDir).SyncShared();
        }
        catch (IOException)
        {
        }
    }

    /// <summary>open(2) of <paramref name="path"/> in the Maildir <paramref name="dir"/> with mode 0600; the directories are
    /// made only when the open says they are missing, not tried before every delivery (Postfix maildir.c).</summary>
    private static int OpenMaking(string dir, string path, int flags, out int errno)
    {
        int fd = LibC.Open(path, flags, 0x180, out errno);
        if (fd >= 0 || errno != LibC.ENOENT) return fd;
        MakeDirectories(dir);
        return LibC.Open(path, flags, 0x180, out errno);
    }

    /// <summary>Creates the Maildir and its <c>tmp</c>, <c>new</c> and <c>cur</c> where missing (mode 0700).</summary>
    private static void MakeDirectories(string dir)
    {
        foreach (var sub in new[] { "", "/tmp", "/new", "/cur" })
        {
            string d = dir + sub;
            if (LibC.mkdir(d, 0x1C0 /* 0700 */) < 0 && LibC.Errno is int e && e != LibC.EEXIST)
                throw new MboxFile.Failure(e, $"create maildir file {d}: {LibC.StrError(e)}");
        }
    }

    /// <summary>The Maildir unique name for a delivery at <paramref name="now"/>.</summary>
    public static string UniqueName(DateTimeOffset now, int pid, long counter, string host)
    {
        long micros = now.Ticks / 10 % 1_000_000;
        var safeHost = new StringBuilder(host.Length);
        foreach (char c in host)
            safeHost.Append(c switch { '/' => "\\057", ':' => "\\072", _ => c.ToString() });
        return string.Create(CultureInfo.InvariantCulture, $"{now.ToUnixTimeSeconds()}.M{micros}P{pid}Q{counter}.{safeHost}");
    }
}
