using MimeKit;

namespace Posthorn.Mua;

/// <summary>mailx(1) as <c>posthorn mail</c>: with addresses it sends standard input as the body;
/// without, it opens a mailbox and reads line commands (<see cref="LineSession"/>).</summary>
/// <remarks>
/// Flags (POSIX mailx, s-nail): -s subject, -c cc, -b bcc, -a file (attachment), -r from (From:
/// and envelope sender), -E (do not send an empty body), -f [file] (another mailbox; alone: ~/mbox),
/// -u user (that user's mailbox; root only), -N (no header summary on start). -n and -i are accepted.
/// --tui opens the full-screen reader (<see cref="Tui.TuiProgram"/>) instead of the line commands;
/// --imap URL opens it over an IMAP INBOX (<see cref="ImapReader"/>); --ca-file FILE trusts the
/// certificates in FILE too, --insecure accepts any server certificate (<see cref="ImapTrust"/>).
/// -f +NAME opens the Maildir++ folder .NAME of the user's Maildir (or ~/Mail/NAME), as mutt.
/// Exit: 0 ok; 1 on any error (mailx). Security: runs as the invoking user; -u is refused to others.
/// </remarks>
public static class MailProgram
{
    public static int Run(string[] args, MuaContext ctx)
    {
        string? subject = null, from = null, folder = null, user = null;
        bool skipEmpty = false, noSummary = false, fFlag = false, tui = false;
        string? imap = null, caFile = null;
        bool insecure = false;
        List<string> to = [], cc = [], bcc = [], attach = [];
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--") { to.AddRange(args[(i + 1)..]); break; }
            if (a == "--tui") { tui = true; continue; }
            if (a == "--insecure") { insecure = true; continue; }
            if (a == "--ca-file")
            {
                if (i + 1 >= args.Length) return Usage(ctx, "option requires an argument -- ca-file");
                caFile = args[++i];
                continue;
            }
            if (a == "--imap")
            {
                if (i + 1 >= args.Length) return Usage(ctx, "option requires an argument -- imap");
                (tui, imap) = (true, args[++i]);
                continue;
            }
            if (a.Length < 2 || a[0] != '-') { to.Add(a); continue; }
            string? Value()
            {
                if (a.Length > 2) return a[2..];
                return i + 1 < args.Length ? args[++i] : null;
            }
            char flag = a[1];
            string? v = flag is 's' or 'c' or 'b' or 'a' or 'r' or 'u' ? Value() : null;
            if (v is null && flag is 's' or 'c' or 'b' or 'a' or 'r' or 'u') return Usage(ctx, $"option requires an argument -- {flag}");
            switch (flag)
            {
                case 's': subject = v; break;
                case 'c': cc.AddRange(SplitList(v!)); break;
                case 'b': bcc.AddRange(SplitList(v!)); break;
                case 'a': attach.Add(v!); break;
                case 'r': from = v; break;
                case 'u': user = v; break;
                case 'E': skipEmpty = true; break;
                case 'N': noSummary = true; break;
                case 'n' or 'i': break;
                case 'f':
                    fFlag = true;
                    if (a.Length > 2) folder = a[2..];
                    else if (i + 1 < args.Length && !args[i + 1].StartsWith('-')) folder = args[++i];
                    break;
                default: return Usage(ctx, $"illegal option -- {flag}");
            }
        }
        if (imap is not null) return ImapReader.Run(imap, ctx, insecure, caFile);
        if (insecure || caFile is not null) return Usage(ctx, "--insecure and --ca-file go with --imap");
        if (tui || fFlag || user is not null || (to.Count == 0 && cc.Count == 0 && bcc.Count == 0))
            return Read(ctx, fFlag ? folder ?? Path.Combine(ctx.HomeOf(ctx.UserName) ?? ".", "mbox") : null, user, noSummary, tui);
        return Send(ctx, new Draft(to.SelectMany(SplitList).ToList(), cc, bcc, subject, "", attach, from), skipEmpty);
    }

    private static IEnumerable<string> SplitList(string s) =>
        s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static int Send(MuaContext ctx, Draft d, bool skipEmpty)
    {
        string body;
        using (var reader = new StreamReader(ctx.OpenStdin())) body = reader.ReadToEnd();
        // mailx -E: "Do not send messages with an empty body."
        if (skipEmpty && body.Length == 0) return 0;
        foreach (string f in d.Attachments)
            if (!File.Exists(f)) return Fail(ctx, $"{f}: No such file or directory");
        try
        {
            return Composer.Send(ctx, d with { Body = body }) == 0 ? 0 : 1;
        }
        catch (ParseException e)
        {
            return Fail(ctx, $"invalid address: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(ctx, e.Message);
        }
    }

    private static int Read(MuaContext ctx, string? folder, string? user, bool noSummary, bool tui)
    {
        if (user is not null && !ctx.IsRoot && user != ctx.UserName) return Fail(ctx, "-u: permission denied (root only)");
        string who = user ?? ctx.UserName;
        if (folder is not null && folder.Length > 1 && folder[0] is '+' or '=')
        {
            string? own = ctx.MailboxOf(who);
            bool maildir = own is not null && (own.EndsWith('/') || Directory.Exists(own));
            folder = Mailbox.ResolveFolder(folder, maildir ? own!.TrimEnd('/') : null, ctx.HomeOf(who));
        }
        string? path = folder ?? ctx.MailboxOf(who);
        if (path is null) return Fail(ctx, $"no home directory for {who}");
        Mailbox box;
        try
        {
            box = Mailbox.Open(path, ctx);
        }
        catch (FileNotFoundException)
        {
            if (folder is not null) return Fail(ctx, $"{path}: No such file or directory");
            ctx.Err.WriteLine($"No mail for {who}");
            return 1;
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            return Fail(ctx, $"{path}: {e.Message}");
        }
        if (tui) return Tui.TuiProgram.Run(box, ctx);
        if (box.Entries.Count == 0 && folder is null)
        {
            ctx.Err.WriteLine($"No mail for {who}");
            return 1;
        }
        return new LineSession(box, ctx).Run(noSummary);
    }

    private static int Usage(MuaContext ctx, string problem)
    {
        ctx.Err.WriteLine($"mail: {problem}");
        ctx.Err.WriteLine("usage: mail [-E] [-s subject] [-c cc] [-b bcc] [-a file] [-r from] address…");
        ctx.Err.WriteLine("       mail [-N] [-f [file] | -u user]");
        ctx.Err.WriteLine("       mail --tui [-f [file] | -u user]");
        ctx.Err.WriteLine("       mail --imap imap[s]://user@host[:port] [--ca-file FILE | --insecure]");
        return 1;
    }

    internal static int Fail(MuaContext ctx, string problem)
    {
        ctx.Err.WriteLine($"mail: {problem}");
        return 1;
    }
}
