namespace Posthorn.Mua.Tui;

/// <summary>mutt's threaded index: each message under the one it answers, found by Message-ID through
/// References and In-Reply-To (RFC 5322 §3.6.4), with mutt's ASCII tree drawn before the subject.</summary>
/// <remarks>
/// A message's parent is the last id of References (then In-Reply-To) that names another message in
/// the mailbox, so a thread whose middle message was deleted still hangs together (JWZ's threading
/// does the same with empty containers; subjects are not used to join threads). A parent link that
/// would make a loop is ignored. Threads and the messages inside them stay in mailbox order.
/// </remarks>
public static class MessageThreads
{
    /// <summary>The entries in threaded order, each with the tree to draw before its subject
    /// ("" for a thread's first message, mutt's "|->" and "`->" below it).</summary>
    public static List<(MailboxEntry Entry, string Tree)> Order(IReadOnlyList<MailboxEntry> entries)
    {
        var byId = new Dictionary<string, MailboxEntry>(StringComparer.Ordinal);
        foreach (var e in entries)
            if (e.MessageId is { Length: > 0 } id) byId.TryAdd(id, e);
        var parent = new Dictionary<MailboxEntry, MailboxEntry>();
        foreach (var e in entries)
        {
            for (int i = e.Parents.Count - 1; i >= 0; i--)
            {
                if (!byId.TryGetValue(e.Parents[i], out var p) || p == e || IsAncestor(e, p, parent)) continue;
                parent[e] = p;
                break;
            }
        }
        var children = new Dictionary<MailboxEntry, List<MailboxEntry>>();
        foreach (var e in entries)
            if (parent.TryGetValue(e, out var p))
                (children.TryGetValue(p, out var list) ? list : children[p] = []).Add(e);
        var order = new List<(MailboxEntry, string)>(entries.Count);
        foreach (var root in entries.Where(e => !parent.ContainsKey(e))) Walk(root, "", "", order, children);
        return order;
    }

    /// <summary>Whether <paramref name="candidate"/> is <paramref name="e"/> or below it already.</summary>
    private static bool IsAncestor(MailboxEntry e, MailboxEntry candidate, Dictionary<MailboxEntry, MailboxEntry> parent)
    {
        for (var at = candidate; parent.TryGetValue(at, out var up); at = up)
            if (up == e) return true;
        return false;
    }

    private static void Walk(MailboxEntry e, string tree, string indent, List<(MailboxEntry, string)> order, Dictionary<MailboxEntry, List<MailboxEntry>> children)
    {
        order.Add((e, tree));
        if (!children.TryGetValue(e, out var kids)) return;
        for (int i = 0; i < kids.Count; i++)
        {
            bool last = i == kids.Count - 1;
            Walk(kids[i], indent + (last ? "`->" : "|->"), indent + (last ? "   " : "|  "), order, children);
        }
    }
}
