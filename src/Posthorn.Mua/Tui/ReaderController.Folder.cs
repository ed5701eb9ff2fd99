namespace Posthorn.Mua.Tui;

/// <summary>mutt's change-folder (<c>c</c>) in <see cref="ReaderController"/>.</summary>
public sealed partial class ReaderController
{
    /// <summary>c: asks for a mailbox and opens it. Over IMAP any folder LIST returns (a wrong name shows
    /// the ones there are); otherwise a path, "~/…", "+NAME" (Maildir++ folder) or "!" (the user's
    /// own mailbox). As on q, the deletions of the mailbox being left are committed first; if that fails
    /// the mailbox stays open.</summary>
    private ReaderAction ChangeFolder() => Ask("Open mailbox: ", "", answer =>
    {
        string name = answer.Trim();
        if (name.Length == 0) return ReaderAction.Continue;
        if (name == "!" && Box is not ImapMailbox) name = _ctx.MailboxOf(_ctx.UserName) ?? name;
        if (Box.Entries.Any(e => e.Deleted) && !Sync())
        {
            Message += " The mailbox was not changed.";
            return ReaderAction.Continue;
        }
        try
        {
            Box = Box.OpenFolder(name, _ctx);
        }
        catch (Exception e) when (IsMailboxFailure(e))
        {
            Message = MessageText.Clean(e.Message);
            return ReaderAction.Continue;
        }
        InPager = false;
        _indexTop = 0;
        Rethread();
        int first = View.ToList().FindIndex(e => e.State == MessageState.New);
        Selected = first >= 0 ? first : 0;
        Message = MessageText.Clean($"{Box.Path}: {Box.Entries.Count} message{(Box.Entries.Count == 1 ? "" : "s")}.");
        return ReaderAction.Continue;
    });
}
