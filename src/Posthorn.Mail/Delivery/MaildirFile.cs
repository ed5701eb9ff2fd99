using System.Globalization;
using System.Text;

namespace Posthorn.Mail.Delivery;

/// <summary>Delivers one message into a Maildir: write <c>tmp/NAME</c>, fsync, rename to
/// <c>new/NAME</c>, fsync <c>new/</c>. Postfix local(8) maildir.c and the Maildir
/// convention (cr.yp.to/proto/maildir.html).</summary>
/// <remarks>
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
        string tmp = $"{dir}/tmp/{uniqueName}";
        const int flags = LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW | LibC.O_NOCTTY;
        int fd = LibC.Open(tmp, flags, 0x180, out int errno);
        if (fd < 0 && errno == LibC.ENOENT)
        {
            // Postfix maildir.c: the directories are made only when the open says they are missing,
            // not tried before every delivery.
            MakeDirectories(dir);
            fd = LibC.Open(tmp, flags, 0x180, out errno);
        }
        if (fd < 0) throw new MboxFile.Failure(errno, $"create maildir file {tmp}: {LibC.StrError(errno)}");
        bool done = false;
        string target = "";
        try
        {
            try
            {
                long size = write(fd);
                target = string.Create(CultureInfo.InvariantCulture, $"{dir}/new/{uniqueName},S={size}");
                if (LibC.fsync(fd) < 0) throw new DeliveryIOException(LibC.Errno, "error writing message");
            }
            catch (DeliveryIOException e)
            {
                throw new MboxFile.Failure(e.Errno, e.Message);
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
            // The rename is durable only once the directory is: fsync new/, shared with the deliveries that
            // rename into it at the same time. A failure is not the delivery's: the file is there.
            try
            {
                Queue.DirectorySync.Shared(dir + "/new").SyncShared();
            }
            catch (IOException)
            {
            }
            return target;
        }
        finally
        {
            if (!done) LibC.unlink(tmp);
        }
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
