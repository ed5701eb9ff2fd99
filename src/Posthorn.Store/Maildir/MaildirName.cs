using System.Text;

namespace Posthorn.Store.Maildir;

/// <summary>Maildir file names: <c>BASE</c> in new/, <c>BASE:2,FLAGS</c> in cur/.</summary>
/// <remarks>
/// The Maildir convention (cr.yp.to/proto/maildir.html): "info" after ":2," holds the flags in ASCII
/// order, D (draft), F (flagged), R (replied = \Answered), S (seen), T (trashed = \Deleted).
/// mutt and Dovecot read and write the same letters, so a flag set over IMAP shows in mutt.
/// Letters we do not know (Dovecot's keyword letters a–z) are kept as they are.
/// </remarks>
internal static class MaildirName
{
    /// <summary>Splits a file name into its unique base, the system flags and any other info letters.</summary>
    public static (string Base, MessageFlags Flags, string Other) Parse(string fileName)
    {
        int colon = fileName.IndexOf(':');
        var flags = FlagsOf(fileName, out string other);
        return (colon < 0 ? fileName : fileName[..colon], flags, other);
    }

    /// <summary>The system flags of a file name's info and its other letters ("" when none: no allocation for the
    /// usual name, which a first scan of a large folder reads 100,000 times).</summary>
    public static MessageFlags FlagsOf(ReadOnlySpan<char> fileName, out string other)
    {
        other = "";
        int colon = fileName.IndexOf(':');
        if (colon < 0) return MessageFlags.None;
        var info = fileName[(colon + 1)..];
        if (!info.StartsWith("2,", StringComparison.Ordinal)) return MessageFlags.None;
        var flags = MessageFlags.None;
        StringBuilder? rest = null;
        foreach (char c in info[2..])
        {
            switch (c)
            {
                case 'D': flags |= MessageFlags.Draft; break;
                case 'F': flags |= MessageFlags.Flagged; break;
                case 'R': flags |= MessageFlags.Answered; break;
                case 'S': flags |= MessageFlags.Seen; break;
                case 'T': flags |= MessageFlags.Deleted; break;
                default: (rest ??= new StringBuilder()).Append(c); break;
            }
        }
        if (rest is not null) other = rest.ToString();
        return flags;
    }

    /// <summary>The cur/ file name for <paramref name="baseName"/> with the given flags, letters in ASCII order.</summary>
    public static string Format(string baseName, MessageFlags flags, string other = "")
    {
        var sb = new StringBuilder(baseName.Length + 8).Append(baseName).Append(":2,");
        if (flags.HasFlag(MessageFlags.Draft)) sb.Append('D');
        if (flags.HasFlag(MessageFlags.Flagged)) sb.Append('F');
        if (flags.HasFlag(MessageFlags.Answered)) sb.Append('R');
        if (flags.HasFlag(MessageFlags.Seen)) sb.Append('S');
        if (flags.HasFlag(MessageFlags.Deleted)) sb.Append('T');
        var rest = other.ToCharArray();
        Array.Sort(rest);
        return sb.Append(rest).ToString();
    }

    /// <summary>The size a message has with CRLF line ends (IMAP RFC822.SIZE, POP3 octets): stored
    /// Maildir files usually end lines in LF alone, so each bare LF counts one more octet.</summary>
    public static long CrlfSize(ReadOnlySpan<byte> data, ref byte previous)
    {
        if (data.IsEmpty) return 0;
        // Every LF counts one more octet unless a CR is before it (vectorized counts, not a byte loop).
        long size = data.Length + data.Count((byte)'\n') - data.Count("\r\n"u8);
        if (data[0] == (byte)'\n' && previous == (byte)'\r') size--;
        previous = data[^1];
        return size;
    }

    /// <summary>The CRLF size of a message whose base name carries it as <c>,W=N</c> (Dovecot's maildir
    /// "virtual size" field, the size with CRLF line ends); false when the name has none.</summary>
    public static bool TryVirtualSize(string baseName, out long size) => TryNamedNumber(baseName, ",W=", out size);

    /// <summary>The stored size (octets of the file) of a message whose base name carries it as <c>,S=N</c> (Maildir++,
    /// written by Posthorn's local delivery, Dovecot and Courier); false when the name has none.</summary>
    public static bool TryStoredSize(string baseName, out long size) => TryNamedNumber(baseName, ",S=", out size);

    /// <summary>The delivery time a unique name starts with (<c>SECONDS.</c>, the Maildir convention); false when it
    /// does not start with a plausible one.</summary>
    public static bool TryNameTime(string baseName, out DateTimeOffset time)
    {
        time = default;
        int dot = baseName.IndexOf('.');
        if (dot is < 1 or > 12 || !long.TryParse(baseName.AsSpan(0, dot), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out long seconds) || seconds > 253402300799L)
            return false;
        time = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }

    private static bool TryNamedNumber(string baseName, string field, out long size)
    {
        size = 0;
        int at = baseName.IndexOf(field, StringComparison.Ordinal);
        if (at < 0) return false;
        var digits = baseName.AsSpan(at + 3);
        int end = digits.IndexOf(',');
        if (end >= 0) digits = digits[..end];
        return digits.Length > 0 && long.TryParse(digits, System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out size);
    }

    /// <summary>The CRLF size of an open file, read through <paramref name="buffer"/>.</summary>
    public static long CrlfSize(Microsoft.Win32.SafeHandles.SafeFileHandle handle, byte[] buffer)
    {
        long total = 0, offset = 0;
        byte prev = 0;
        int n;
        while ((n = RandomAccess.Read(handle, buffer, offset)) > 0)
        {
            total += CrlfSize(buffer.AsSpan(0, n), ref prev);
            offset += n;
        }
        return total;
    }

    public static long CrlfSize(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        var buf = new byte[65536];
        long total = 0;
        byte prev = 0;
        int n;
        while ((n = f.Read(buf)) > 0) total += CrlfSize(buf.AsSpan(0, n), ref prev);
        return total;
    }
}
