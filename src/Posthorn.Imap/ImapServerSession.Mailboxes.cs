using System.Globalization;
using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>Commands of the authenticated state (RFC 9051 §6.3).</summary>
public sealed partial class ImapServerSession
{
    private static string MailboxName(ImapToken t)
    {
        if (t.Kind == ImapTokenKind.List) throw new CommandSyntaxException("Invalid mailbox name.");
        string n = t.Text;
        // RFC 9051 §5.1: INBOX in any case is INBOX.
        return n.Equals("INBOX", StringComparison.OrdinalIgnoreCase) ? "INBOX" : n;
    }

    private async ValueTask<Result> SelectAsync(IReadOnlyList<ImapToken> args, bool readOnly)
    {
        if (args.Count < 1) return Result.Bad("Invalid arguments.");
        string name = MailboxName(args[0]);
        if (args.Count > 2 || args.Count == 2 && args[1].Kind != ImapTokenKind.List) return Result.Bad("Invalid arguments.");
        var qresync = args.Count == 2 ? ParseSelectParameters(args[1]) : null;
        if (_box is not null)
        {
            await _box.DisposeAsync();
            _box = null;
            // RFC 9051 §6.3.2: the previous mailbox is closed without expunge, announced with [CLOSED].
            _w.Raw("* OK [CLOSED] Previous mailbox closed."u8).Crlf();
        }
        var box = await _account!.OpenAsync(name, readOnly, _ct);
        if (box is null) return Result.No($"Mailbox doesn't exist: {name}", "NONEXISTENT");
        _box = box;
        _announcedExists = box.Messages.Count;
        _w.Raw(@"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)"u8).Crlf();
        _w.Raw(readOnly ? "* OK [PERMANENTFLAGS ()] Read-only mailbox."u8
            : @"* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted."u8).Crlf();
        _w.Ascii($"* {box.Messages.Count} EXISTS").Crlf();
        if (!_rev2)
        {
            // RFC 3501 §6.3.1: RECENT and the first unseen message; IMAP4rev2 dropped both.
            _w.Raw("* 0 RECENT"u8).Crlf();
            var messages = box.Messages;
            int unseen = 0;
            while (unseen < messages.Count && messages[unseen].Flags.HasFlag(MessageFlags.Seen)) unseen++;
            if (unseen < messages.Count) _w.Ascii($"* OK [UNSEEN {unseen + 1}] First unseen.").Crlf();
        }
        _w.Ascii($"* OK [UIDVALIDITY {box.UidValidity}] UIDs valid").Crlf();
        _w.Ascii($"* OK [UIDNEXT {box.UidNext}] Predicted next UID").Crlf();
        // RFC 7162 §3.1.2.1: a store with persistent mod-sequences sends HIGHESTMODSEQ on every SELECT/EXAMINE.
        _w.Ascii($"* OK [HIGHESTMODSEQ {box.HighestModSeq}] Highest").Crlf();
        if (_rev2)
        {
            _w.Raw("* LIST () \".\" "u8).AString(name).Crlf();
        }
        if (qresync is not null) await WriteQResyncAsync(box, qresync);
        return Result.Ok(readOnly ? "Examine completed." : "Select completed.", readOnly ? "READ-ONLY" : "READ-WRITE");
    }

    private static Result FromError(StoreError? e, string ok) => e is null ? Result.Ok(ok) : Result.No(e.Text, e.Code);

    private Result Create(IReadOnlyList<ImapToken> args)
    {
        if (args.Count < 1) return Result.Bad("Invalid arguments.");
        // RFC 9051 §6.3.4: a trailing delimiter only says the name will have inferiors.
        string name = MailboxName(args[0]).TrimEnd('.');
        return FromError(_account!.Create(name), "Create completed.");
    }

    private Result Delete(IReadOnlyList<ImapToken> args)
    {
        if (args.Count != 1) return Result.Bad("Invalid arguments.");
        string name = MailboxName(args[0]);
        if (_box is not null && _box.Name == name) return Result.No("Can't delete the selected mailbox.", "INUSE");
        return FromError(_account!.Delete(name), "Delete completed.");
    }

    private Result Rename(IReadOnlyList<ImapToken> args)
    {
        if (args.Count != 2) return Result.Bad("Invalid arguments.");
        return FromError(_account!.Rename(MailboxName(args[0]), MailboxName(args[1])), "Rename completed.");
    }

    private Result Subscribe(IReadOnlyList<ImapToken> args, bool on)
    {
        if (args.Count != 1) return Result.Bad("Invalid arguments.");
        _account!.SetSubscribed(MailboxName(args[0]), on);
        return Result.Ok(on ? "Subscribe completed." : "Unsubscribe completed.");
    }

    private async ValueTask<Result> StatusAsync(IReadOnlyList<ImapToken> args)
    {
        if (args.Count != 2 || args[1].Kind != ImapTokenKind.List) return Result.Bad("Invalid arguments.");
        string name = MailboxName(args[0]);
        var status = await _account!.StatusAsync(name, _ct);
        if (status is null) return Result.No($"Mailbox doesn't exist: {name}", "NONEXISTENT");
        WriteStatus(name, status, args[1].Items);
        return Result.Ok("Status completed.");
    }

    /// <summary>One untagged STATUS response (RFC 9051 §7.3.2); also LIST's RETURN (STATUS …) (RFC 5819).</summary>
    private void WriteStatus(string name, MailboxStatus status, IReadOnlyList<ImapToken> requested)
    {
        var items = new List<string>();
        foreach (var item in requested)
        {
            string key = item.Text.ToUpperInvariant();
            long? value = key switch
            {
                "MESSAGES" => status.Messages,
                "UIDNEXT" => status.UidNext,
                "UIDVALIDITY" => status.UidValidity,
                "UNSEEN" => status.Unseen,
                "RECENT" => 0,
                "SIZE" => status.Size,
                "HIGHESTMODSEQ" => (long)status.HighestModSeq,   // RFC 7162 §3.1.9
                "DELETED" => null,
                _ => throw new CommandSyntaxException($"Invalid status item {key}."),
            };
            if (value is { } v) items.Add(key + " " + v.ToString(CultureInfo.InvariantCulture));
        }
        _w.Raw("* STATUS "u8).AString(name).Ascii(" (" + string.Join(' ', items) + ")").Crlf();
    }

    /// <summary>APPEND mailbox [flags] [date-time] literal (RFC 9051 §6.3.12), answered with APPENDUID (RFC 4315).</summary>
    private async ValueTask<Result> AppendAsync(IReadOnlyList<ImapToken> args)
    {
        if (args.Count < 2 || args[^1].Kind != ImapTokenKind.String) return Result.Bad("Invalid arguments.");
        string name = MailboxName(args[0]);
        var flags = MessageFlags.None;
        IReadOnlyList<string> keywords = [];
        DateTimeOffset? date = null;
        for (int i = 1; i < args.Count - 1; i++)
        {
            if (args[i].Kind == ImapTokenKind.List) (flags, keywords) = ParseFlags(args[i].Items);
            else if (TryParseDateTime(args[i].Text, out var d)) date = d;
            else return Result.Bad("Invalid arguments.");
        }
        var (result, error) = await _account!.AppendAsync(name, args[^1].Bytes, flags, keywords, date, _ct);
        if (error is not null) return Result.No(error.Text, error.Code);
        return Result.Ok("Append completed.", $"APPENDUID {result!.UidValidity} {result.Uid}");
    }

    /// <summary>RFC 9051 §9 date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE.</summary>
    internal static bool TryParseDateTime(string s, out DateTimeOffset date) =>
        DateTimeOffset.TryParseExact(s.Trim(), ["d-MMM-yyyy HH:mm:ss zzz", "dd-MMM-yyyy HH:mm:ss zzz"],
            CultureInfo.InvariantCulture, DateTimeStyles.None, out date)
        || DateTimeOffset.TryParseExact(InsertColon(s.Trim()), ["d-MMM-yyyy HH:mm:ss zzz", "dd-MMM-yyyy HH:mm:ss zzz"],
            CultureInfo.InvariantCulture, DateTimeStyles.None, out date);

    /// <summary>"+0200" → "+02:00" for .NET's zzz.</summary>
    private static string InsertColon(string s) => s.Length > 5 && s[^5] is '+' or '-' ? s[..^2] + ":" + s[^2..] : s;

    private static (MessageFlags Flags, IReadOnlyList<string> Keywords) ParseFlags(IEnumerable<ImapToken> tokens)
    {
        var flags = MessageFlags.None;
        var keywords = new List<string>();
        foreach (var t in tokens)
        {
            string f = t.Text;
            switch (f.ToUpperInvariant())
            {
                case @"\SEEN": flags |= MessageFlags.Seen; break;
                case @"\ANSWERED": flags |= MessageFlags.Answered; break;
                case @"\FLAGGED": flags |= MessageFlags.Flagged; break;
                case @"\DELETED": flags |= MessageFlags.Deleted; break;
                case @"\DRAFT": flags |= MessageFlags.Draft; break;
                case @"\RECENT": break;
                default:
                    if (f.StartsWith('\\') || f.Length == 0) throw new CommandSyntaxException($"Invalid system flag {f}.");
                    keywords.Add(f);
                    break;
            }
        }
        return (flags, keywords);
    }

    internal static string FormatFlags(MessageInfo m)
    {
        var names = new List<string>();
        if (m.Flags.HasFlag(MessageFlags.Answered)) names.Add(@"\Answered");
        if (m.Flags.HasFlag(MessageFlags.Flagged)) names.Add(@"\Flagged");
        if (m.Flags.HasFlag(MessageFlags.Deleted)) names.Add(@"\Deleted");
        if (m.Flags.HasFlag(MessageFlags.Seen)) names.Add(@"\Seen");
        if (m.Flags.HasFlag(MessageFlags.Draft)) names.Add(@"\Draft");
        names.AddRange(m.Keywords);
        return "(" + string.Join(' ', names) + ")";
    }
}
