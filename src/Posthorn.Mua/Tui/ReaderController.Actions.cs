using System.Text;
using MimeKit;
using Posthorn.Mail.Delivery;

namespace Posthorn.Mua.Tui;

/// <summary>The keys of <see cref="ReaderController"/> that change something outside the screen:
/// reply and mail through $EDITOR and sendmail, save, and the commit of deletions.</summary>
public sealed partial class ReaderController
{
    private PendingDraft? _editing;

    /// <summary>A draft being edited: its file, its text before the editor ran, the message it answers.</summary>
    private sealed record PendingDraft(DirectoryInfo Dir, string FilePath, string Original, Draft Template, MailboxEntry? Answers);

    private ReaderAction Reply(bool all)
    {
        if (Current is not { } e) { Message = "No messages."; return ReaderAction.Continue; }
        MimeMessage orig;
        try
        {
            orig = Box.Load(e);
        }
        catch (Exception ex) when (IsMailboxFailure(ex))
        {
            Message = MessageText.Clean($"Cannot read message {e.Number}: {ex.Message}");
            return ReaderAction.Continue;
        }
        var draft = Replies.Build(orig, _ctx.UserName, all);
        // mutt's attribution and quoting ("On DATE, NAME wrote:", "> " before each line).
        var body = new StringBuilder();
        string who = orig.From.Mailboxes.FirstOrDefault() is { } f ? (f.Name is { Length: > 0 } n ? n : f.Address) : e.From;
        body.Append($"On {orig.Date:ddd, MMM dd, yyyy 'at' HH:mm}, {who} wrote:\n");
        string text = orig.TextBody ?? "";
        foreach (string line in text.Replace("\r\n", "\n").TrimEnd('\n').Split('\n')) body.Append('>').Append(line.Length > 0 ? " " : "").Append(line).Append('\n');
        body.Append('\n');
        return Edit(draft with { Body = body.ToString() }, e);
    }

    private ReaderAction Compose() =>
        Ask("To: ", "", to => to.Trim().Length == 0
            ? Then(() => Message = "No recipients specified.")
            : Ask("Subject: ", "", subject => Edit(new Draft(to.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), [], [], subject, "", []), null)));

    /// <summary>Writes the draft to a private temporary file and asks the runner to start $EDITOR on it.</summary>
    private ReaderAction Edit(Draft draft, MailboxEntry? answers)
    {
        var dir = Directory.CreateTempSubdirectory("posthorn-mail-");   // mode 0700
        string path = Path.Combine(dir.FullName, "draft");
        string text = DraftFile.Format(draft);
        File.WriteAllText(path, text);
        _editing = new PendingDraft(dir, path, text, draft, answers);
        return new ReaderAction(ReaderActionKind.Edit, EditPath: path);
    }

    /// <summary>The editor the runner should start: $VISUAL, else $EDITOR, else vi (mutt).</summary>
    public string Editor => _ctx.GetEnv("VISUAL") is { Length: > 0 } v ? v : _ctx.GetEnv("EDITOR") is { Length: > 0 } e ? e : "vi";

    /// <summary>The editor ended with <paramref name="exitCode"/>: asks to send the draft unless it was
    /// left unchanged (mutt's abort_unmodified) or the editor failed.</summary>
    public ReaderAction EditorFinished(int exitCode)
    {
        if (_editing is not { } p) return ReaderAction.Continue;
        _editing = null;
        string text;
        try
        {
            text = File.ReadAllText(p.FilePath);
        }
        finally
        {
            p.Dir.Delete(recursive: true);
        }
        if (exitCode != 0) return Then(() => Message = $"Editor exited with status {exitCode}; message not sent.");
        if (text == p.Original) return Then(() => Message = "Aborted unmodified message.");
        if (!DraftFile.TryParse(text, p.Template, out var draft, out string problem)) return Then(() => Message = problem);
        return AskSend(draft, p.Answers, "");
    }

    private void Send(Draft draft, MailboxEntry? answers)
    {
        try
        {
            if (Composer.Send(_ctx, draft) != 0) { Message = "Sending failed; the message was not sent."; return; }
        }
        catch (Exception e) when (e is ParseException or IOException or UnauthorizedAccessException)
        {
            Message = MessageText.Clean($"The message was not sent: {e.Message}");
            return;
        }
        if (answers is not null)
        {
            answers.Replied = true;
            try
            {
                Box.MarkAnswered(answers);
            }
            catch (Exception e) when (IsMailboxFailure(e))
            {
                Message = MessageText.Clean($"Mail sent; the answered flag was not stored: {e.Message}");
                return;
            }
        }
        Message = "Mail sent.";
    }

    private ReaderAction Save()
    {
        if (Current is not { } e) { Message = "No messages."; return ReaderAction.Continue; }
        return Ask("Save to mailbox: ", "", file =>
        {
            file = file.Trim();
            if (file.Length == 0) return ReaderAction.Continue;
            file = ExpandHome(file);
            string? error = Replies.SaveAsMbox(Box, [e], file, _ctx);
            Message = MessageText.Clean(error ?? $"Saved to {file}.");
            return ReaderAction.Continue;
        });
    }

    /// <summary>mutt's $ (sync-mailbox): the deletions leave the mailbox now, then it is read again
    /// (mail that arrived meanwhile appears). On failure the mailbox is left as it was.</summary>
    /// <returns>false when the mailbox could not be rewritten.</returns>
    public bool Sync()
    {
        int deleted = Box.Entries.Count(e => e.Deleted);
        if (deleted == 0)
        {
            Message = "Mailbox is unchanged.";
            return true;
        }
        var kept = Box.Entries.Where(e => !e.Deleted).Select(e => (e.State, e.Replied)).ToList();
        try
        {
            Box.Commit();
        }
        catch (Exception e) when (IsMailboxFailure(e))
        {
            Message = MessageText.Clean($"{Box.Path}: {e.Message}; mailbox left unchanged.");
            return false;
        }
        int current = View.Take(Selected).Count(e => !e.Deleted);
        InPager = false;
        try
        {
            Box = Box.Reopen(_ctx);
        }
        catch (Exception e) when (e is FileNotFoundException)
        {
            // An mbox that lost its last message may be removed by other tools; show it empty.
            Box.Entries.Clear();
            Message = MessageText.Clean($"{Box.Path}: {e.Message}");
            return true;
        }
        catch (Exception e) when (IsMailboxFailure(e))
        {
            Box.Entries.RemoveAll(x => x.Deleted);
            Message = MessageText.Clean($"{Box.Path}: {e.Message}");
            return true;
        }
        // The kept messages come first, in order; what they showed stays (it is not stored in the file).
        for (int i = 0; i < kept.Count && i < Box.Entries.Count; i++)
            (Box.Entries[i].State, Box.Entries[i].Replied) = (kept[i].State, kept[i].Replied || Box.Entries[i].Replied);
        Rethread();
        Selected = Math.Clamp(current, 0, Math.Max(0, View.Count - 1));
        Message = $"{deleted} message{(deleted == 1 ? "" : "s")} deleted.";
        return true;
    }

    /// <summary>The mailbox changed outside (IMAP IDLE saw new mail or an expunge): reads the index
    /// again; uncommitted deletion marks stay. The pager keeps showing the open message.</summary>
    public void MailboxChanged()
    {
        int before = Box.Entries.Count;
        try
        {
            Box = Box.Reopen(_ctx);
        }
        catch (Exception e) when (IsMailboxFailure(e))
        {
            Message = MessageText.Clean($"{Box.Path}: {e.Message}");
            return;
        }
        Rethread();
        Selected = Math.Clamp(Selected, 0, Math.Max(0, View.Count - 1));
        // mutt's words for new mail in the open mailbox.
        if (Box.Entries.Count > before) Message = "New mail in this mailbox.";
    }

    /// <summary>What reading or changing a mailbox can fail with (files, locks, parse errors, the IMAP
    /// server or connection); shown on the message line, never a crash.</summary>
    internal static bool IsMailboxFailure(Exception e) => e is IOException or FormatException or UnauthorizedAccessException
        or InvalidOperationException or MboxFile.Failure or MailKit.ProtocolException or MailKit.CommandException;

    /// <summary>Shows <paramref name="text"/> on the message line.</summary>
    public void Notice(string text) => Message = MessageText.Clean(text);

    /// <summary>q: as mailx, commit the deletions and end; on failure stay (x leaves without changes).</summary>
    private ReaderAction Quit()
    {
        if (Box.Entries.Any(e => e.Deleted) && !Sync())
        {
            Message += " Press x to exit without changes.";
            return ReaderAction.Continue;
        }
        return new ReaderAction(ReaderActionKind.Quit, 0);
    }
}
