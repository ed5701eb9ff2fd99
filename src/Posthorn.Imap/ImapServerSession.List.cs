using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>LIST and LSUB: RFC 9051 §6.3.9 with the extended syntax of RFC 5258 (LIST-EXTENDED),
/// RFC 5819 (RETURN (STATUS …)) and RFC 6154 (SPECIAL-USE).</summary>
/// <remarks>ABNF (RFC 5258 §6): list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
/// [SP list-return-opts]; mbox-or-pat = list-mailbox / patterns; patterns = "(" list-mailbox *(SP list-mailbox) ")".</remarks>
public sealed partial class ImapServerSession
{
    private sealed record ListOptions(bool SelectSubscribed, bool RecursiveMatch, bool SelectSpecialUse,
        bool ReturnSubscribed, bool ReturnSpecialUse, IReadOnlyList<ImapToken>? ReturnStatus);

    private async ValueTask<Result> ListAsync(IReadOnlyList<ImapToken> args, bool lsub)
    {
        string word = lsub ? "LSUB" : "LIST";
        int i = 0;
        bool selSubscribed = false, recursive = false, selSpecial = false, retSubscribed = false, retSpecial = false;
        IReadOnlyList<ImapToken>? retStatus = null;
        if (!lsub && args.Count > 0 && args[0].Kind == ImapTokenKind.List)
        {
            foreach (var o in args[i++].Items)
            {
                switch (o.Text.ToUpperInvariant())
                {
                    case "SUBSCRIBED": selSubscribed = true; break;
                    case "RECURSIVEMATCH": recursive = true; break;
                    case "SPECIAL-USE": selSpecial = true; break;   // RFC 6154 §3
                    case "REMOTE": break;                              // RFC 5258 §3.1: no remote mailboxes here
                    default: return Result.Bad($"Unknown LIST selection option {o.Text}.");
                }
            }
            // RFC 5258 §3.1: RECURSIVEMATCH alone is an error.
            if (recursive && !selSubscribed && !selSpecial) return Result.Bad("RECURSIVEMATCH needs another selection option.");
        }
        if (args.Count - i < 2) return Result.Bad("Invalid arguments.");
        string reference = args[i++].Text;
        var patternToken = args[i++];
        var patterns = patternToken.Kind == ImapTokenKind.List && !lsub
            ? patternToken.Items.Select(t => t.Text).ToList() : [patternToken.Text];
        if (i < args.Count)
        {
            if (lsub || !args[i].IsAtom("RETURN") || i + 1 >= args.Count || args[i + 1].Kind != ImapTokenKind.List)
                return Result.Bad("Invalid arguments.");
            var items = args[i + 1].Items;
            for (int k = 0; k < items.Count; k++)
            {
                switch (items[k].Text.ToUpperInvariant())
                {
                    case "SUBSCRIBED": retSubscribed = true; break;
                    case "CHILDREN": break;              // always sent (RFC 3348 CHILDREN is advertised)
                    case "SPECIAL-USE": retSpecial = true; break;
                    case "STATUS" when k + 1 < items.Count && items[k + 1].Kind == ImapTokenKind.List:
                        retStatus = items[++k].Items;
                        break;
                    default: return Result.Bad($"Unknown LIST return option {items[k].Text}.");
                }
            }
            if (i + 2 != args.Count) return Result.Bad("Invalid arguments.");
        }
        if (patterns.Count == 1 && patterns[0].Length == 0)
        {
            // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and root.
            _w.Ascii($"* {word} (\\Noselect) \".\" \"\"").Crlf();
            return Result.Ok($"{word} completed.");
        }
        var o2 = new ListOptions(selSubscribed, recursive, selSpecial, retSubscribed || selSubscribed, retSpecial, retStatus);
        return lsub ? Lsub(reference, patterns[0]) : await ListExtendedAsync(reference, patterns, o2);
    }

    private Result Lsub(string reference, string pattern)
    {
        var all = _account!.ListMailboxes();
        foreach (var name in _account.Subscriptions().Where(s => _account.Exists(s)).Order(StringComparer.Ordinal))
        {
            if (!Matches(reference + pattern, name)) continue;
            bool children = all.Any(n => n.StartsWith(name + ".", StringComparison.Ordinal));
            _w.Ascii($"* LSUB ({(children ? "\\HasChildren" : "\\HasNoChildren")}) \".\" ").AString(name).Crlf();
        }
        return Result.Ok("LSUB completed.");
    }

    private async ValueTask<Result> ListExtendedAsync(string reference, IReadOnlyList<string> patterns, ListOptions o)
    {
        var all = _account!.ListMailboxes();
        var subscribed = _account.Subscriptions();
        bool Match(string name) => patterns.Any(p => Matches(reference + p, name));
        bool Selected(string name) => (!o.SelectSubscribed || subscribed.Contains(name))
            && (!o.SelectSpecialUse || SpecialUse.Of(name) is not null);
        // RFC 5258 §3: with SUBSCRIBED, subscribed names that no longer exist are listed too (\NonExistent).
        var candidates = o.SelectSubscribed ? all.Union(subscribed).ToList() : all.ToList();
        foreach (var name in candidates)
        {
            if (!Match(name)) continue;
            bool exists = all.Contains(name);
            bool selected = Selected(name);
            // RFC 5258 §3.5: RECURSIVEMATCH lists a parent whose descendant meets the selection, with CHILDINFO.
            bool childInfo = o.RecursiveMatch && !selected
                && candidates.Any(c => c.StartsWith(name + ".", StringComparison.Ordinal) && Selected(c));
            if (!selected && !childInfo) continue;
            var attrs = new List<string>();
            if (!exists) attrs.Add(@"\NonExistent");
            else attrs.Add(all.Any(n => n.StartsWith(name + ".", StringComparison.Ordinal)) ? @"\HasChildren" : @"\HasNoChildren");
            if (o.ReturnSubscribed && subscribed.Contains(name)) attrs.Add(@"\Subscribed");
            // RFC 6154 §2: the attribute is sent when asked for, and may be sent always (Dovecot does).
            if (exists && SpecialUse.Of(name) is { } use) attrs.Add(use);
            _w.Ascii("* LIST (" + string.Join(' ', attrs) + ") \".\" ").AString(name);
            if (childInfo) _w.Ascii(" (\"CHILDINFO\" (\"" + (o.SelectSubscribed ? "SUBSCRIBED" : "SPECIAL-USE") + "\"))");
            _w.Crlf();
            // RFC 5819 §2: STATUS follows the LIST line of each selectable mailbox.
            if (o.ReturnStatus is not null && exists && await _account.StatusAsync(name, _ct) is MailboxStatus status)
                WriteStatus(name, status, o.ReturnStatus);
        }
        return Result.Ok("LIST completed.");
    }

    /// <summary>RFC 9051 §6.3.9: "*" matches anything, "%" anything but the delimiter. Matched by
    /// dynamic programming, so that a pattern of many wildcards costs O(n·m), never backtracking.</summary>
    internal static bool Matches(string pattern, string name)
    {
        if (pattern.StartsWith("INBOX", StringComparison.OrdinalIgnoreCase) && name.StartsWith("INBOX", StringComparison.Ordinal))
            pattern = "INBOX" + pattern[5..];
        var reach = new bool[name.Length + 1];
        reach[0] = true;
        foreach (char p in pattern)
        {
            var next = new bool[name.Length + 1];
            for (int i = 0; i <= name.Length; i++)
            {
                if (!reach[i]) continue;
                if (p is '*' or '%')
                {
                    next[i] = true;
                    for (int j = i; j < name.Length && (p == '*' || name[j] != '.'); j++) next[j + 1] = true;
                }
                else if (i < name.Length && name[i] == p)
                {
                    next[i + 1] = true;
                }
            }
            reach = next;
        }
        return reach[name.Length];
    }
}
