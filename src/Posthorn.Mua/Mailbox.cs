using System.Globalization;
using MimeKit;

namespace Posthorn.Mua;

/// <summary>mailx's message states: N new, U unread (seen by a reader, not read), read.</summary>
public enum MessageState { New, Unread, Read }

/// <summary>One message of an open mailbox, as the header summary shows it.</summary>
public sealed class MailboxEntry
{
    public required int Number { get; init; }
    /// <summary>The From: address (or the envelope sender of the From_ line).</summary>
    public required string From { get; init; }
    /// <summary>"Tue Nov 25 13:17", from the From_ line or the Date: header.</summary>
    public required string Date { get; init; }
    public required string Subject { get; init; }
    public required long Size { get; init; }
    public long Lines { get; set; }
    public required MessageState State { get; set; }
    public bool Deleted { get; set; }
    /// <summary>Answered: mutt's "r" flag (mbox X-Status: A, Maildir "R", IMAP \Answered).</summary>
    public bool Replied { get; set; }
    /// <summary>The Message-ID (without angle brackets), for threads; null when there is none.</summary>
    public string? MessageId { get; init; }
    /// <summary>The ids this message answers: References, then In-Reply-To (RFC 5322 §3.6.4; the
    /// parent is the last one present in the mailbox).</summary>
    public IReadOnlyList<string> Parents { get; init; } = [];
    /// <summary>mbox: where the From_ line starts and how many bytes up to the next one.</summary>
    internal long Offset { get; init; }
    /// <summary>Maildir: the message file.</summary>
    internal string? FilePath { get; init; }
}

/// <summary>An mbox file or a Maildir opened by <c>posthorn mail</c>: the index of its messages,
/// each message on demand, and the commit of deletions on quit.</summary>
public abstract class Mailbox
{
    /// <summary>The file, directory or IMAP URL shown in the status line.</summary>
    public string Path { get; protected set; } = "";
    public List<MailboxEntry> Entries { get; } = [];

    /// <summary>Opens a Maildir (a directory, or a path ending in "/") or an mbox file.</summary>
    /// <exception cref="FileNotFoundException">there is no such mailbox.</exception>
    /// <exception cref="FormatException">the file is not in mbox format.</exception>
    public static Mailbox Open(string path, MuaContext ctx) =>
        path.EndsWith('/') || Directory.Exists(path) ? MaildirMailbox.Open(path) : MboxMailbox.Open(path, ctx.Locking);

    /// <summary>mutt's change-folder / mailx's <c>folder</c>: another mailbox, named as
    /// <see cref="ResolveFolder"/> reads it. The caller commits this one first.</summary>
    /// <exception cref="IOException">there is no such mailbox, or it cannot be read.</exception>
    /// <exception cref="FormatException">the file is not in mbox format.</exception>
    public virtual Mailbox OpenFolder(string name, MuaContext ctx)
    {
        string root = Path.TrimEnd('/');
        // A Maildir++ folder ".Sent" lives in the top Maildir; from inside one, "+X" is its sibling.
        string? maildir = this is MaildirMailbox ? (System.IO.Path.GetFileName(root).StartsWith('.') ? System.IO.Path.GetDirectoryName(root) : root) : null;
        return Open(ResolveFolder(name, maildir, ctx.HomeOf(ctx.UserName)), ctx);
    }

    /// <summary>A folder name as mutt reads it: "+NAME" or "=NAME" is the Maildir++ folder ".NAME" of
    /// <paramref name="maildirRoot"/> ("/" in NAME becomes ".", Maildir++ nesting), or ~/Mail/NAME (mutt's
    /// $folder) when the mailbox is not a Maildir; "~/" is the home directory; anything else a path.</summary>
    public static string ResolveFolder(string name, string? maildirRoot, string? home)
    {
        if (name.Length > 1 && name[0] is '+' or '=')
        {
            string folder = name[1..].Trim('/');
            return maildirRoot is not null
                ? System.IO.Path.Combine(maildirRoot, "." + folder.Replace('/', '.')) + "/"
                : System.IO.Path.Combine(home ?? ".", "Mail", folder);
        }
        if (name.StartsWith("~/", StringComparison.Ordinal) && home is not null) return System.IO.Path.Combine(home, name[2..]);
        return name;
    }

    /// <summary>Reads the mailbox again (after a commit: the kept messages, then any new ones).</summary>
    public virtual Mailbox Reopen(MuaContext ctx) => Open(Path, ctx);

    /// <summary>Stores that <paramref name="e"/> was answered where the format keeps it at once (IMAP);
    /// mbox and Maildir keep it only on screen (see the DEVIATION in MboxMailbox).</summary>
    public virtual void MarkAnswered(MailboxEntry e) { }

    /// <summary>Parses one message (mbox: from its From_ line).</summary>
    public abstract MimeMessage Load(MailboxEntry e);

    /// <summary>The envelope line mailx prints before the headers: "From sender date".</summary>
    public abstract string FromLine(MailboxEntry e);

    /// <summary>Writes the message in mbox format (From_ line, body, blank line) for <c>save</c>.</summary>
    public abstract void CopyAsMbox(MailboxEntry e, Stream to);

    /// <summary>Removes the deleted messages; returns how many remain.</summary>
    /// <exception cref="IOException">the mailbox changed in a way that makes the rewrite unsafe.</exception>
    public abstract int Commit();

    /// <summary>The From:, Subject: and date columns of the header summary.</summary>
    internal static (string From, string Subject) Summary(HeaderList headers, string fallbackFrom)
    {
        string from = fallbackFrom;
        if (headers[HeaderId.From] is { } f && InternetAddressList.TryParse(f, out var list)
            && list.Mailboxes.FirstOrDefault() is { } mb)
            from = mb.Address;
        return (from, headers[HeaderId.Subject] ?? "");
    }

    /// <summary>The Message-ID and the References/In-Reply-To ids of a header block (RFC 5322 §3.6.4).</summary>
    internal static (string? Id, IReadOnlyList<string> Parents) ThreadIds(HeaderList headers)
    {
        string? id = headers[HeaderId.MessageId] is { } m ? MimeKit.Utils.MimeUtils.EnumerateReferences(m).FirstOrDefault() : null;
        var parents = new List<string>();
        if (headers[HeaderId.References] is { } refs) parents.AddRange(MimeKit.Utils.MimeUtils.EnumerateReferences(refs));
        if (headers[HeaderId.InReplyTo] is { } irt) parents.AddRange(MimeKit.Utils.MimeUtils.EnumerateReferences(irt));
        return (id, parents);
    }

    /// <summary>Postfix local(8) mbox form: the From_ line, lines starting "From " quoted as ">From ", a blank line.</summary>
    internal static void WriteMboxQuoted(string fromLine, Stream message, Stream to)
    {
        to.Write(System.Text.Encoding.UTF8.GetBytes(fromLine + "\n"));
        using var reader = new StreamReader(message, System.Text.Encoding.Latin1, false, 64 * 1024, leaveOpen: true);   // bytes through unchanged
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            if (line.StartsWith("From ", StringComparison.Ordinal)) to.WriteByte((byte)'>');
            to.Write(System.Text.Encoding.Latin1.GetBytes(line));
            to.WriteByte((byte)'\n');
        }
        to.WriteByte((byte)'\n');
    }

    /// <summary>mailx's date column, "Tue Nov 25 13:17", in the time zone the date was written in.</summary>
    internal static string DateColumn(DateTimeOffset d) => d.ToString("ddd MMM dd HH:mm", CultureInfo.InvariantCulture);
}
