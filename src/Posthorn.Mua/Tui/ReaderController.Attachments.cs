using MimeKit;

namespace Posthorn.Mua.Tui;

/// <summary>Attachments in <see cref="ReaderController"/>: adding files to a draft before it is sent
/// (mutt's compose menu <c>a</c>, here a question on the bottom line), and saving a part of the open
/// message to a file (mutt's <c>v</c> attachment menu then <c>s</c>, here <c>v</c> and two questions).</summary>
/// <remarks>
/// RFC 2183 §2.3: the filename parameter is only a suggestion; it is reduced to its last path element,
/// so a message can never choose where a file lands. An existing file is overwritten only after the
/// user answers y (mutt asks the same); without it the file is created with O_EXCL semantics
/// (<see cref="FileMode.CreateNew"/>), so a file that appears meanwhile is not replaced either.
/// </remarks>
public sealed partial class ReaderController
{
    private List<MimeEntity> _attachments = [];

    /// <summary>The question after the editor: y (or Enter) sends, n aborts, a asks for a file to attach.</summary>
    private ReaderAction AskSend(Draft draft, MailboxEntry? answers, string note)
    {
        string files = draft.Attachments.Count == 0 ? ""
            : $" with {draft.Attachments.Count} attachment{(draft.Attachments.Count == 1 ? "" : "s")} ({string.Join(", ", draft.Attachments.Select(Path.GetFileName))})";
        return Ask(MessageText.Clean($"{note}Send message{files}? ([y]/n/a:attach file): "), "", answer => answer.Trim() switch
        {
            "" or "y" or "Y" or "yes" => Then(() => Send(draft, answers)),
            "a" or "A" => Ask("Attach file: ", "", path => Attach(draft, answers, path), () => AskSend(draft, answers, "")),
            _ => Then(() => Message = "Message not sent."),
        });
    }

    /// <summary>Adds <paramref name="path"/> to the draft when it can be read; back to the send question either way.</summary>
    private ReaderAction Attach(Draft draft, MailboxEntry? answers, string path)
    {
        path = ExpandHome(path.Trim());
        if (path.Length == 0) return AskSend(draft, answers, "");
        if (Directory.Exists(path)) return AskSend(draft, answers, $"{path}: is a directory. ");
        try
        {
            using (File.OpenRead(path)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return AskSend(draft, answers, $"{path}: {e.Message} ");
        }
        return AskSend(draft with { Attachments = [.. draft.Attachments, Path.GetFullPath(path)] }, answers, "");
    }

    /// <summary>v: which attachment (when there are several), then the file name.</summary>
    private ReaderAction SaveAttachment()
    {
        if (Current is not { } e) { Message = "No messages."; return ReaderAction.Continue; }
        var parts = _attachments;
        if (!InPager)
        {
            parts = [];
            try
            {
                MessageText.Lines(Box.Load(e), parts);
            }
            catch (Exception ex) when (IsMailboxFailure(ex))
            {
                Message = MessageText.Clean($"Cannot read message {e.Number}: {ex.Message}");
                return ReaderAction.Continue;
            }
        }
        if (parts.Count == 0) { Message = "This message has no attachments."; return ReaderAction.Continue; }
        if (parts.Count == 1) return AskAttachmentFile(parts[0]);
        return Ask($"Save attachment (1-{parts.Count}): ", "", answer =>
            int.TryParse(answer.Trim(), out int n) && n >= 1 && n <= parts.Count
                ? AskAttachmentFile(parts[n - 1])
                : Then(() => Message = $"No attachment {MessageText.Clean(answer.Trim())}."));
    }

    private ReaderAction AskAttachmentFile(MimeEntity part) =>
        Ask("Save to file: ", SuggestedName(part), answer =>
        {
            string file = ExpandHome(answer.Trim());
            if (file.Length == 0) return ReaderAction.Continue;
            if (Directory.Exists(file)) file = Path.Combine(file, SuggestedName(part));
            if (File.Exists(file))
                return Ask("File exists, overwrite? (y/[n]): ", "", yes => yes.Trim() is "y" or "Y" or "yes"
                    ? Then(() => WriteAttachment(part, file, overwrite: true))
                    : Then(() => Message = MessageText.Clean($"Not saved; {file} is left as it was.")));
            return Then(() => WriteAttachment(part, file, overwrite: false));
        });

    /// <summary>Writes the decoded content (RFC 2045 §6: base64 and quoted-printable undone) of a part,
    /// or an enclosed message as it is, to <paramref name="file"/>.</summary>
    private void WriteAttachment(MimeEntity part, string file, bool overwrite)
    {
        try
        {
            using var to = new FileStream(file, overwrite ? FileMode.Create : FileMode.CreateNew, FileAccess.Write, FileShare.None);
            if (part is MessagePart { Message: { } inner }) inner.WriteTo(to);
            else if (part is MimePart { Content: { } content }) content.DecodeTo(to);
            Message = MessageText.Clean($"Saved to {file} ({MessageText.SizeText(to.Length)}).");
        }
        catch (IOException) when (!overwrite && File.Exists(file))
        {
            Message = MessageText.Clean($"{file} appeared meanwhile; not overwritten.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Message = MessageText.Clean($"{file}: {e.Message}");
        }
    }

    /// <summary>The part's file name without any directory (RFC 2183 §2.3), or a neutral name.</summary>
    private static string SuggestedName(MimeEntity part)
    {
        string? name = part is MimePart p ? p.FileName ?? p.ContentType.Name : null;
        name = Path.GetFileName((name ?? "").Replace('\\', '/'));
        name = MessageText.Clean(name).Replace('?', '_').Trim();
        if (name is "" or "." or "..") name = part is MessagePart ? "message.eml" : "attachment";
        return name;
    }

    /// <summary>"~/x" is x in the user's home directory (mutt).</summary>
    private string ExpandHome(string path) =>
        path.StartsWith("~/", StringComparison.Ordinal) && _ctx.HomeOf(_ctx.UserName) is { } home ? Path.Combine(home, path[2..]) : path;
}
