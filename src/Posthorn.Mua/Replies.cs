using MimeKit;
using Posthorn.Mail.Delivery;

namespace Posthorn.Mua;

/// <summary>What the line mode and the full-screen reader share: the reply draft and the mbox save.</summary>
public static class Replies
{
    /// <summary>The addresses, subject and threading headers of a reply to <paramref name="orig"/>
    /// (body empty). <paramref name="all"/>: mailx <c>r</c> / mutt <c>g</c>, every recipient but the user.</summary>
    public static Draft Build(MimeMessage orig, string userName, bool all)
    {
        // RFC 5322 §3.6.2: replies go to Reply-To: when it is present, else From:.
        var to = (orig.ReplyTo.Count > 0 ? orig.ReplyTo : orig.From).Mailboxes.Select(m => m.Address).ToList();
        var cc = new List<string>();
        if (all)
        {
            bool NotMe(string a) => !a.Equals(userName, StringComparison.OrdinalIgnoreCase)
                && !a.StartsWith(userName + "@", StringComparison.OrdinalIgnoreCase);
            to.AddRange(orig.To.Mailboxes.Select(m => m.Address).Where(NotMe));
            cc.AddRange(orig.Cc.Mailboxes.Select(m => m.Address).Where(NotMe));
        }
        to = to.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        cc = cc.Where(c => !to.Contains(c, StringComparer.OrdinalIgnoreCase)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        string subject = orig.Subject ?? "";
        if (!subject.StartsWith("Re:", StringComparison.OrdinalIgnoreCase)) subject = "Re: " + subject;
        // RFC 5322 §3.6.4: In-Reply-To is the parent's Message-ID, References its References plus it.
        var refs = orig.References.ToList();
        if (orig.MessageId is { } id) refs.Add(id);
        return new Draft(to, cc, [], subject, "", [], InReplyTo: orig.MessageId, References: refs);
    }

    /// <summary>mailx <c>save</c> / mutt <c>s</c>: appends <paramref name="entries"/> to the mbox
    /// <paramref name="file"/> under local delivery's locks; returns null, or the error to show.</summary>
    public static string? SaveAsMbox(Mailbox box, IReadOnlyList<MailboxEntry> entries, string file, MuaContext ctx)
    {
        try
        {
            MboxFile.Append(file, owner: null, chown: null, ctx.Locking, dotlockMayFail: true, (fd, end) =>
            {
                using var to = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: false), FileAccess.Write);
                to.Position = end;
                foreach (var e in entries) box.CopyAsMbox(e, to);
            });
            return null;
        }
        catch (Exception e) when (e is MboxFile.Failure or IOException or UnauthorizedAccessException or FormatException)
        {
            return $"{file}: {e.Message}";
        }
    }
}
