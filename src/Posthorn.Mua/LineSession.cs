using MimeKit;

namespace Posthorn.Mua;

/// <summary>mailx's command mode over a <see cref="Mailbox"/>: one command a line from
/// <see cref="MuaContext.In"/>, output to <see cref="MuaContext.Out"/>. End of input is <c>quit</c>.</summary>
/// <remarks>
/// Commands (POSIX mailx): h[eaders], p[rint]/t[ype] [list], N (print N), n[ext] or an empty line,
/// d[elete] [list], u[ndelete] [list], r[eply]/R[eply] [N], m[ail] addr…, s[ave] [list] file,
/// fo[lder] name (commit, then open another mailbox: a path, "+NAME" for a Maildir++ folder, "%" for
/// the user's own), q[uit] (commit deletions), x/ex[it] (leave the mailbox as it was), ?/help.
/// A list is numbers, ranges "2-4" or "*"; none means the current message.
/// DEVIATION: saved messages stay in the mailbox (as with mailx's keepsave).
/// </remarks>
public sealed partial class LineSession(Mailbox box, MuaContext ctx)
{
    private int _current = 1;
    private bool _printedCurrent;

    public int Run(bool noSummary)
    {
        var first = box.Entries.FirstOrDefault(e => e.State == MessageState.New) ?? box.Entries.FirstOrDefault();
        _current = first?.Number ?? 1;
        Announce();
        if (!noSummary) Headers();
        for (string? line; (line = ctx.In.ReadLine()) is not null;)
        {
            var result = Execute(line.Trim());
            if (result is int rc) return rc;
        }
        return Quit();
    }

    /// <summary>mailx's first line: <c>"PATH": 3 messages 1 new 1 unread</c>.</summary>
    private void Announce()
    {
        int fresh = box.Entries.Count(e => e.State == MessageState.New);
        int unread = box.Entries.Count(e => e.State == MessageState.Unread);
        ctx.Out.WriteLine($"\"{box.Path}\": {box.Entries.Count} message{(box.Entries.Count == 1 ? "" : "s")}"
            + (fresh > 0 ? $" {fresh} new" : "") + (unread > 0 ? $" {unread} unread" : ""));
    }

    /// <summary>Runs one command; returns the exit status when the session ends.</summary>
    private int? Execute(string line)
    {
        if (line.Length == 0) return Next();
        int split = 0;
        while (split < line.Length && char.IsLetter(line[split])) split++;
        if (split == 0 && line[0] == '?') return Help();
        string cmd = line[..split];
        string rest = line[split..].Trim();
        if (cmd.Length == 0) return Print(rest);   // "3" prints message 3
        switch (cmd)
        {
            case "h" or "headers": return Headers();
            case "p" or "print" or "t" or "type": return Print(rest);
            case "n" or "next": return Next();
            case "d" or "delete": return Delete(rest, deleted: true);
            case "u" or "undelete": return Delete(rest, deleted: false);
            case "r" or "reply": return Reply(rest, all: true);
            case "R" or "Reply": return Reply(rest, all: false);
            case "m" or "mail": return MailTo(rest);
            case "s" or "save": return Save(rest);
            case "fo" or "folder" or "file": return Folder(rest);
            case "q" or "quit": return Quit();
            case "x" or "ex" or "exit" or "xit": return 0;
            case "help": return Help();
            default:
                ctx.Err.WriteLine($"Unknown command: \"{cmd}\"");
                return null;
        }
    }

    private int? Help()
    {
        ctx.Out.WriteLine("""
            h              header summary           p|t [list]   print messages
            n or empty     next message             N            print message N
            d [list]       delete                   u [list]     undelete
            r [N]          reply to all             R [N]        reply to the sender
            m addr…        send mail                s [list] file  append to an mbox file
            folder name    open another mailbox (+NAME: a Maildir++ folder)
            q              quit, commit deletions   x            exit, change nothing
            """);
        return null;
    }

    private int? Headers()
    {
        foreach (var e in box.Entries) ctx.Out.WriteLine(HeaderLine(e, e.Number == _current));
        return null;
    }

    /// <summary>mailx's summary line: <c>&gt;N  1 alice@example.com  Tue Nov 25 13:17  12/345   subject</c>.</summary>
    public static string HeaderLine(MailboxEntry e, bool current)
    {
        char state = e.Deleted ? 'D' : e.State switch { MessageState.New => 'N', MessageState.Unread => 'U', _ => ' ' };
        string from = e.From.Length > 20 ? e.From[..20] : e.From;
        string size = $"{e.Lines}/{e.Size}";
        return $"{(current ? '>' : ' ')}{state}{e.Number,3} {from,-20}  {e.Date,-16} {size,9}   {e.Subject}".TrimEnd();
    }

    private int? Print(string args)
    {
        foreach (var e in Select(args, undeletedOnly: true)) Show(e);
        return null;
    }

    private int? Next()
    {
        int from = _printedCurrent ? _current + 1 : _current;
        var e = box.Entries.FirstOrDefault(x => x.Number >= from && !x.Deleted);
        if (e is null) ctx.Out.WriteLine("At EOF");
        else Show(e);
        return null;
    }

    private void Show(MailboxEntry e)
    {
        _current = e.Number;
        _printedCurrent = true;
        e.State = MessageState.Read;
        MimeMessage msg;
        try
        {
            msg = box.Load(e);
        }
        catch (Exception ex) when (ex is FormatException or IOException)
        {
            ctx.Err.WriteLine($"mail: message {e.Number}: {ex.Message}");
            return;
        }
        ctx.Out.WriteLine($"Message {e.Number}:");
        ctx.Out.WriteLine(box.FromLine(e));
        foreach (var h in msg.Headers) ctx.Out.WriteLine($"{h.Field}: {h.Value}");
        ctx.Out.WriteLine();
        ctx.Out.Write(msg.TextBody is { } t ? (t.EndsWith('\n') ? t : t + "\n") : "[-- no text/plain part --]\n");
        int k = 0;
        foreach (var a in msg.Attachments)
        {
            string name = a.ContentDisposition?.FileName ?? a.ContentType.Name ?? "(unnamed)";
            ctx.Out.WriteLine($"[-- Attachment #{++k}: {name} ({a.ContentType.MimeType}) --]");
        }
        ctx.Out.WriteLine();
    }

    /// <summary>Parses a message list; reports numbers out of range. None means the current message.</summary>
    private List<MailboxEntry> Select(string args, bool undeletedOnly)
    {
        var list = new List<MailboxEntry>();
        if (args.Length == 0)
        {
            if (box.Entries.FirstOrDefault(x => x.Number == _current) is { } cur && !(undeletedOnly && cur.Deleted)) list.Add(cur);
            else ctx.Err.WriteLine("No applicable messages");
            return list;
        }
        foreach (string token in args.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (token == "*") { list.AddRange(box.Entries.Where(x => !(undeletedOnly && x.Deleted))); continue; }
            string[] range = token.Split('-', 2);
            if (!int.TryParse(range[0], out int lo) || !int.TryParse(range.Length == 2 ? range[1] : range[0], out int hi)
                || lo < 1 || hi > box.Entries.Count || lo > hi)
            {
                ctx.Err.WriteLine($"{token}: Invalid message number");
                return [];
            }
            for (int n = lo; n <= hi; n++)
            {
                var e = box.Entries[n - 1];
                if (undeletedOnly && e.Deleted) ctx.Err.WriteLine($"{n}: Inappropriate message");
                else list.Add(e);
            }
        }
        return list;
    }
}
