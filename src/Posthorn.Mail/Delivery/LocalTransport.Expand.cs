using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>Alias expansion (Postfix local(8) alias.c, aliases(5)): turns one queue recipient
/// into mailbox and file deliveries, forwarded addresses and immediate failures.</summary>
public sealed partial class LocalTransport
{
    /// <summary>Postfix alias.c bails out "when nesting reaches some unreasonable depth".</summary>
    private const int MaxLevel = 100;

    private abstract record Planned(string Recipient, string DeliveredTo);
    private sealed record MailboxDelivery(string Recipient, string DeliveredTo, SystemUser User) : Planned(Recipient, DeliveredTo);
    private sealed record FileDelivery(string Recipient, string DeliveredTo, string Path) : Planned(Recipient, DeliveredTo);

    private sealed class Expansion(string original)
    {
        public string Original { get; } = original;
        public List<Planned> Deliveries { get; } = [];
        public List<LocalRecipientResult> Results { get; } = [];
        public List<string> Forward { get; } = [];
        /// <summary>Postfix been_here(): each mailbox, file and forward address once per message.</summary>
        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);
        /// <summary>The aliases being expanded, outermost first: seeing one again is a loop.</summary>
        public List<string> Path { get; } = [];
    }

    private Expansion Expand(LocalDeliveryRequest req)
    {
        string address = req.Recipient.ToString();
        var x = new Expansion(req.OriginalRecipient ?? address);
        ExpandName(x, Unquote(req.Recipient.LocalPart).ToLowerInvariant(), address, expandedFrom: null, level: 0);
        return x;
    }

    /// <param name="name">the local part, lower case, extension included.</param>
    /// <param name="address">the address as reported and written to Delivered-To.</param>
    /// <param name="expandedFrom">the alias whose value named this recipient; an alias that lists
    /// its own name means the account of that name (Postfix alias.c, as sendmail).</param>
    private void ExpandName(Expansion x, string name, string address, string? expandedFrom, int level)
    {
        var (bare, extension) = SplitExtension(name);
        if (level > MaxLevel) { Loop(x, address, name); return; }
        if (expandedFrom != name && expandedFrom != bare && TryFindAlias(name, bare, extension, out var aliasName, out var targets))
        {
            if (x.Path.Contains(aliasName)) { Loop(x, address, aliasName); return; }
            x.Path.Add(aliasName);
            foreach (var t in targets) ExpandTarget(x, t, aliasName, address, level + 1);
            x.Path.RemoveAt(x.Path.Count - 1);
            return;
        }
        // Postfix local(8): the mailbox owner is the local part without its extension.
        if (!_users.TryGetUser(bare, out var user))
        {
            x.Results.Add(Result(address, x.Original, DeliveryOutcome.Bounced, "5.1.1", $"unknown user: \"{bare}\""));
            return;
        }
        if (x.Seen.Add("mailbox " + user.Name)) x.Deliveries.Add(new MailboxDelivery(address, address, user));
    }

    private bool TryFindAlias(string name, string bare, string? extension, out string aliasName, out IReadOnlyList<string> targets)
    {
        // Postfix local(8): look up the full local part first, then the part without the extension.
        foreach (var key in extension is null ? [name] : new[] { name, bare })
            foreach (var db in _o.Aliases)
                if (db.TryLookup(key, out targets))
                {
                    aliasName = key;
                    return true;
                }
        aliasName = "";
        targets = [];
        return false;
    }

    /// <summary>One alias value: <c>|command</c>, <c>/file</c>, <c>/maildir/</c>,
    /// <c>:include:/file</c>, <c>user</c> or <c>user@domain</c> (aliases(5)).</summary>
    private void ExpandTarget(Expansion x, string target, string aliasName, string aliasAddress, int level)
    {
        if (target.StartsWith('|'))
        {
            // Postfix local(8): allow_mail_to_commands decides; its wording is kept.
            if (!_o.AllowMailToCommands)
                x.Results.Add(Result(aliasAddress, x.Original, DeliveryOutcome.Bounced, "5.7.1", "mail to command is restricted"));
            else // DEVIATION: pipe delivery is not implemented yet; the mail waits in the queue.
                x.Results.Add(Result(aliasAddress, x.Original, DeliveryOutcome.Deferred, "4.3.0", "mail to command is not supported by this mail system"));
            return;
        }
        if (target.StartsWith('/'))
        {
            if (!_o.AllowMailToFiles)
                x.Results.Add(Result(aliasAddress, x.Original, DeliveryOutcome.Bounced, "5.7.1", "mail to file is restricted"));
            else if (x.Seen.Add("file " + target))
                x.Deliveries.Add(new FileDelivery(aliasAddress, aliasAddress, target));
            return;
        }
        if (target.StartsWith(":include:", StringComparison.OrdinalIgnoreCase))
        {
            ExpandInclude(x, target[":include:".Length..].Trim(), aliasName, aliasAddress, level);
            return;
        }
        int at = target.LastIndexOf('@');
        if (at >= 0)
        {
            string domain = target[(at + 1)..];
            if (!IsMyDestination(domain))
            {
                if (x.Seen.Add("forward " + target.ToLowerInvariant())) x.Forward.Add(target);
                return;
            }
            ExpandName(x, Unquote(target[..at]).ToLowerInvariant(), target, aliasName, level);
            return;
        }
        string local = Unquote(target).ToLowerInvariant();
        // Postfix trivial-rewrite (append_at_myorigin): an unqualified alias result becomes
        // local@$myorigin, which is delivered here only when $myorigin is in mydestination.
        string origin = _o.MyOrigin ?? _o.MyHostname;
        if (!IsMyDestination(origin))
        {
            if (x.Seen.Add("forward " + $"{local}@{origin}")) x.Forward.Add($"{target}@{origin}");
            return;
        }
        ExpandName(x, local, $"{local}@{origin}", aliasName, level);
    }

    /// <summary>aliases(5) <c>:include:</c>: the file lists more targets, separated by commas or
    /// line breaks; <c>#</c> lines are comments.</summary>
    /// <remarks>DEVIATION: Postfix opens the file with the alias database owner's rights; the file
    /// is named by the administrator in the alias map, and is read here with the daemon's.</remarks>
    private void ExpandInclude(Expansion x, string path, string aliasName, string aliasAddress, int level)
    {
        if (!x.Seen.Add("include " + path)) return;
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string why = e is FileNotFoundException or DirectoryNotFoundException ? "No such file or directory"
                : e is UnauthorizedAccessException ? "Permission denied" : e.Message;
            x.Results.Add(Result(aliasAddress, x.Original, DeliveryOutcome.Deferred, "4.3.0", $"cannot open include file {path}: {why}"));
            return;
        }
        var lines = text.Split('\n').Where(l => !l.TrimStart().StartsWith('#'));
        foreach (var t in AliasFile.SplitTargets(string.Join('\n', lines)))
            ExpandTarget(x, t, aliasName, aliasAddress, level + 1);
    }

    private void Loop(Expansion x, string address, string name)
    {
        // Postfix alias.c: warning and bounce "alias database loop for NAME", 5.4.6.
        _log.Warning(Program, $"alias database loop for {name}");
        x.Results.Add(Result(address, x.Original, DeliveryOutcome.Bounced, "5.4.6", $"alias database loop for {name}"));
    }
}
