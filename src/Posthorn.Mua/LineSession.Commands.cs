using MimeKit;
using Posthorn.Mail.Delivery;

namespace Posthorn.Mua;

/// <summary>The commands of <see cref="LineSession"/> that change something: delete, reply, mail, save, quit.</summary>
public sealed partial class LineSession
{
    private int? Delete(string args, bool deleted)
    {
        var list = Select(args, undeletedOnly: deleted);
        foreach (var e in list) e.Deleted = deleted;
        if (deleted && list.Count > 0)
        {
            // mailx: after a delete the current message is the next one not deleted.
            var next = box.Entries.FirstOrDefault(x => x.Number > list[^1].Number && !x.Deleted);
            _current = next?.Number ?? list[^1].Number;
            _printedCurrent = false;
        }
        else if (list.Count > 0) _current = list[^1].Number;
        return null;
    }

    /// <summary>POSIX mailx: <c>r</c> answers the sender and every recipient, <c>R</c> only the sender.</summary>
    private int? Reply(string args, bool all)
    {
        var list = Select(args, undeletedOnly: true);
        if (list.Count == 0) return null;
        var e = list[0];
        MimeMessage orig;
        try { orig = box.Load(e); }
        catch (Exception ex) when (ex is FormatException or IOException) { ctx.Err.WriteLine($"mail: {ex.Message}"); return null; }
        var draft = Replies.Build(orig, ctx.UserName, all);
        var (to, cc, subject) = (draft.To, draft.Cc, draft.Subject);
        ctx.Out.WriteLine($"To: {string.Join(", ", to)}");
        if (cc.Count > 0) ctx.Out.WriteLine($"Cc: {string.Join(", ", cc)}");
        ctx.Out.WriteLine($"Subject: {subject}");
        e.State = MessageState.Read;
        SendComposed(draft with { Body = ReadBody() });
        return null;
    }

    private int? MailTo(string args)
    {
        var to = args.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries).ToList();
        if (to.Count == 0)
        {
            ctx.Err.WriteLine("No recipients specified");
            return null;
        }
        ctx.Out.WriteLine("Subject: ");
        string subject = ctx.In.ReadLine() ?? "";
        SendComposed(new Draft(to, [], [], subject, ReadBody(), []));
        return null;
    }

    /// <summary>The body of a message composed in command mode: lines up to one with "." alone, or the end of input.</summary>
    private string ReadBody()
    {
        var body = new System.Text.StringBuilder();
        for (string? line; (line = ctx.In.ReadLine()) is not null && line != ".";) body.Append(line).Append('\n');
        return body.ToString();
    }

    private void SendComposed(Draft d)
    {
        try
        {
            if (Composer.Send(ctx, d) != 0) ctx.Err.WriteLine("mail: the message was not sent");
            else ctx.Out.WriteLine("EOT");
        }
        catch (Exception e) when (e is ParseException or IOException)
        {
            ctx.Err.WriteLine($"mail: the message was not sent: {e.Message}");
        }
    }

    /// <summary>mailx <c>save [list] file</c>: appends in mbox format under local delivery's locks.</summary>
    private int? Save(string args)
    {
        int cut = args.LastIndexOf(' ');
        string file = cut < 0 ? args : args[(cut + 1)..];
        string list = cut < 0 ? "" : args[..cut].Trim();
        if (file.Length == 0)
        {
            ctx.Err.WriteLine("No file specified");
            return null;
        }
        var entries = Select(list, undeletedOnly: true);
        if (entries.Count == 0) return null;
        if (Replies.SaveAsMbox(box, entries, file, ctx) is { } error)
        {
            ctx.Err.WriteLine(error);
            return null;
        }
        ctx.Out.WriteLine($"\"{file}\" [Appended] {entries.Sum(e => e.Lines)}/{entries.Sum(e => e.Size)}");
        return null;
    }

    /// <summary>mailx <c>quit</c>: deleted messages leave the mailbox, the others are held.</summary>
    private int Quit() => Commit() ? 0 : 1;

    private bool Commit()
    {
        try
        {
            int kept = box.Commit();
            if (kept < box.Entries.Count || kept > 0)
                ctx.Out.WriteLine($"Held {kept} message{(kept == 1 ? "" : "s")} in {box.Path}");
            return true;
        }
        catch (Exception e) when (e is MboxFile.Failure or IOException or UnauthorizedAccessException)
        {
            ctx.Err.WriteLine($"mail: {box.Path}: {e.Message}; mailbox left unchanged");
            return false;
        }
    }

    /// <summary>mailx <c>folder name</c>: commits this mailbox as <c>quit</c> does, then opens
    /// <paramref name="name"/> (<see cref="Mailbox.OpenFolder"/>); without a name, says which is open.</summary>
    private int? Folder(string name)
    {
        if (name.Length == 0)
        {
            Announce();
            return null;
        }
        if (name == "%") name = ctx.MailboxOf(ctx.UserName) ?? name;   // mailx: % is the system mailbox
        if (!Commit()) return null;
        try
        {
            box = box.OpenFolder(name, ctx);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            ctx.Err.WriteLine($"mail: {e.Message}");
            // The deletions are committed: read what is left of this mailbox.
            try { box = box.Reopen(ctx); }
            catch (Exception again) when (again is IOException or FormatException or UnauthorizedAccessException) { box.Entries.RemoveAll(x => x.Deleted); }
            return null;
        }
        var first = box.Entries.FirstOrDefault(e => e.State == MessageState.New) ?? box.Entries.FirstOrDefault();
        (_current, _printedCurrent) = (first?.Number ?? 1, false);
        Announce();
        return null;
    }
}
