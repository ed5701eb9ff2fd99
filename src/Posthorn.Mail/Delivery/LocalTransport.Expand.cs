using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>Alias expansion (Postfix local(8) alias.c, aliases(5)): turns one queue recipient
/// into mailbox, command and file deliveries, forwarded addresses and immediate failures.</summary>
public sealed partial class LocalTransport
{
    /// <summary>Postfix alias.c bails out "when nesting reaches some unreasonable depth".</summary>
    private const int MaxLevel = 100;

    /// <summary>The rights a |command or /file runs with (Postfix USER_ATTR). Uid 0 means default_privs.</summary>
    private sealed record Privs(uint Uid, uint Gid, string? Home, string? Shell);

    /// <summary>Where a target was found. <paramref name="ExpandedFrom"/>: the alias (or the user
    /// whose .forward) that named it; <paramref name="Sender"/>: an owner-NAME envelope sender.</summary>
    private sealed record Ctx(LocalSources Source, string? ExpandedFrom, Privs? Privs, string? Sender, bool LuserDone = false)
    {
        public static readonly Ctx Top = new(LocalSources.None, null, null, null);
    }

    private abstract record Planned(string Recipient, string DeliveredTo, string? Sender);
    private sealed record MailboxDelivery(string Recipient, string DeliveredTo, string? Sender, SystemUser User) : Planned(Recipient, DeliveredTo, Sender);
    private sealed record FileDelivery(string Recipient, string DeliveredTo, string? Sender, string Path, Privs? Privs) : Planned(Recipient, DeliveredTo, Sender);
    /// <param name="Address">the address the command was found at: USER, LOCAL, EXTENSION, DOMAIN and RECIPIENT come from it.</param>
    private sealed record CommandDelivery(string Recipient, string DeliveredTo, string? Sender, string Command, Privs? Privs,
        string Address, bool Mailbox) : Planned(Recipient, DeliveredTo, Sender);

    private sealed class Expansion(string original)
    {
        public string Original { get; } = original;
        public List<Planned> Deliveries { get; } = [];
        public List<LocalRecipientResult> Results { get; } = [];
        public List<LocalForward> Forward { get; } = [];
        /// <summary>Postfix been_here(): each mailbox, file, command and forward address once per message.</summary>
        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);
        /// <summary>The aliases being expanded, outermost first: seeing one again is a loop.</summary>
        public List<string> Path { get; } = [];
        /// <summary>The message's Delivered-To: values, lower case.</summary>
        public HashSet<string> DeliveredTo { get; init; } = [];
    }

    private Expansion Expand(LocalDeliveryRequest req)
    {
        string address = req.Recipient.ToString();
        var x = new Expansion(req.OriginalRecipient ?? address) { DeliveredTo = ReadDeliveredTo(req) };
        ExpandName(x, Unquote(req.Recipient.LocalPart).ToLowerInvariant(), address, Ctx.Top, level: 0);
        return x;
    }

    /// <param name="name">the local part, lower case, extension included; a leading backslash
    /// (<c>\user</c>) means the user's own mailbox, without alias or .forward.</param>
    /// <param name="address">the address as reported and written to Delivered-To.</param>
    private void ExpandName(Expansion x, string name, string address, Ctx ctx, int level)
    {
        bool direct = name.StartsWith('\\');
        if (direct) name = name[1..];
        var (bare, extension) = SplitExtension(name);
        if (level > MaxLevel) { Loop(x, address, name); return; }
        if (x.DeliveredTo.Contains(address.TrimStart('\\').ToLowerInvariant()))
        {
            // Postfix local(8) recipient.c: an address this message was already delivered to (its
            // Delivered-To:, e.g. on a copy forwarded elsewhere that came back) is a loop.
            Add(x, address, ctx, DeliveryOutcome.Bounced, "5.4.6", $"mail forwarding loop for {address}");
            return;
        }
        if (!direct && _o.UnavailableAliasMaps.Count > 0)
        {
            // Postfix alias.c: a failed lookup defers the recipient.
            _log.Warning(Program, $"{_o.UnavailableAliasMaps[0]}: lookup of '{name}' failed");
            Add(x, address, ctx, DeliveryOutcome.Deferred, "4.3.0", "alias database unavailable");
            return;
        }
        if (!direct && ctx.ExpandedFrom != name && ctx.ExpandedFrom != bare
            && TryFindAlias(name, bare, extension, out var aliasName, out var targets, out var db))
        {
            if (x.Path.Contains(aliasName)) { Loop(x, address, aliasName); return; }
            x.Path.Add(aliasName);
            var inner = new Ctx(LocalSources.Alias, aliasName, AliasPrivs(db), OwnerSender(aliasName) ?? ctx.Sender);
            foreach (var t in targets) ExpandTarget(x, t, address, inner, level + 1);
            x.Path.RemoveAt(x.Path.Count - 1);
            return;
        }
        // Postfix local(8): the mailbox owner is the local part without its extension.
        if (!_users.TryGetUser(bare, out var user))
        {
            Unknown(x, name, bare, extension, address, ctx, level);
            return;
        }
        if (!direct && !(ctx.Source == LocalSources.Forward && ctx.ExpandedFrom == bare) && TryForward(x, user, name, extension, address, ctx, level))
            return;
        Mailbox(x, user, address, ctx);
    }

    /// <summary>mailbox_transport_maps or fallback_transport_maps for <paramref name="user"/> (Postfix local(8) mailbox.c,
    /// unknown.c: the key is the user name). False when the table could not answer: the recipient is deferred
    /// ("table lookup failure", 4.3.0) and nothing else is tried.</summary>
    private bool TryTransportMap(Expansion x, Func<string, string?>? maps, string user, string address, Ctx ctx, out string? transport)
    {
        transport = null;
        if (maps is null) return true;
        try
        {
            if (maps(user) is { } found && found.Trim() is { Length: > 0 } value) transport = value;
            return true;
        }
        catch (Posthorn.Config.Tables.LookupTableException e)
        {
            _log.Warning(Program, $"{e.Table}: lookup of '{user}' failed: {e.Message}");
            Add(x, address, ctx, DeliveryOutcome.Deferred, "4.3.0", "table lookup failure");
            return false;
        }
    }

    /// <summary>The user's mailbox: mailbox_command when set, else the mbox or Maildir.</summary>
    private void Mailbox(Expansion x, SystemUser user, string address, Ctx ctx)
    {
        // Postfix local(8): mailbox_transport_maps (by user name), then mailbox_transport, come before
        // mailbox_command and the mailbox itself.
        if (!TryTransportMap(x, _o.MailboxTransportMaps, user.Name, address, ctx, out var transport)) return;
        transport ??= _o.MailboxTransport.Length > 0 ? _o.MailboxTransport : null;
        if (transport is not null)
        {
            if (x.Seen.Add("mailbox " + user.Name)) x.Results.Add(Pass(x, address, ctx, transport));
            return;
        }
        string command = _o.MailboxCommand;
        try
        {
            // Postfix local(8) mailbox.c: mailbox_command_maps, looked up by user name, before mailbox_command;
            // a lookup error defers ("table lookup failure", 4.3.0).
            if (_o.MailboxCommandMaps?.Invoke(user.Name) is { Length: > 0 } mapped) command = mapped;
        }
        catch (Posthorn.Config.Tables.LookupTableException e)
        {
            _log.Warning(Program, $"{e.Table}: lookup of '{user.Name}' failed: {e.Message}");
            Add(x, address, ctx, DeliveryOutcome.Deferred, "4.3.0", "table lookup failure");
            return;
        }
        if (command.Length == 0)
        {
            if (x.Seen.Add("mailbox " + user.Name)) x.Deliveries.Add(new MailboxDelivery(address, address, ctx.Sender, user));
            return;
        }
        // Postfix postconf(5) mailbox_command: not subjected to $parameter substitution, so that
        // shell syntax ("$EXTENSION") reaches the shell; it runs as the recipient (root: default_privs).
        var privs = new Privs((uint)user.Uid, (uint)user.Gid, user.Home, user.Shell);
        if (x.Seen.Add($"command {user.Name}:{user.Uid} {command}"))
            x.Deliveries.Add(new CommandDelivery(address, address, ctx.Sender, command, privs, address, Mailbox: true));
    }

    private bool TryFindAlias(string name, string bare, string? extension, out string aliasName, out IReadOnlyList<string> targets, out AliasDatabase db)
    {
        // Postfix local(8): look up the full local part first, then the part without the extension.
        foreach (var key in extension is null ? [name] : new[] { name, bare })
            foreach (var d in _o.Aliases)
                if (d.TryLookup(key, out targets))
                {
                    aliasName = key;
                    db = d;
                    return true;
                }
        aliasName = "";
        targets = [];
        db = null!;
        return false;
    }

    /// <summary>Postfix local(8) DELIVERY RIGHTS: an alias map's targets run with the rights of
    /// its owner; default_privs when root owns it.</summary>
    private Privs AliasPrivs(AliasDatabase db)
    {
        var (uid, gid) = db.Owner;
        return OwnerPrivs(uid, gid);
    }

    private Privs OwnerPrivs(uint uid, uint gid)
    {
        if (uid == 0) return new Privs(0, 0, null, null);
        return _users.TryGetUserById((int)uid, out var owner)
            ? new Privs(uid, (uint)owner.Gid, owner.Home, owner.Shell)
            : new Privs(uid, gid, null, null); // DEVIATION: no passwd entry: the file's group.
    }

    /// <summary>Postfix aliases(5): mail to an alias that has an owner-NAME companion gets
    /// owner-NAME as its envelope sender, so that problems go to the owner; with
    /// expand_owner_alias the owner alias's own (single) value is used instead.</summary>
    private string? OwnerSender(string aliasName)
    {
        if (aliasName.StartsWith("owner-", StringComparison.Ordinal)) return null;
        string owner = "owner-" + aliasName;
        foreach (var d in _o.Aliases)
        {
            if (!d.TryLookup(owner, out var value)) continue;
            string origin = _o.MyOrigin.Length > 0 ? _o.MyOrigin : _o.MyHostname;
            if (_o.ExpandOwnerAlias && value.Count == 1 && value[0][0] is not ('|' or '/' or ':'))
                return value[0].Contains('@') ? value[0] : $"{value[0]}@{origin}";
            return $"{owner}@{origin}";
        }
        return null;
    }

    /// <summary>One alias value: <c>|command</c>, <c>/file</c>, <c>/maildir/</c>,
    /// <c>:include:/file</c>, <c>user</c>, <c>\user</c> or <c>user@domain</c> (aliases(5)).</summary>
    private void ExpandTarget(Expansion x, string target, string aliasAddress, Ctx ctx, int level)
    {
        if (target.StartsWith('|'))
        {
            // Postfix local(8): allow_mail_to_commands decides per source; its wording is kept.
            if ((_o.MailToCommands & ctx.Source) == 0)
                Add(x, aliasAddress, ctx, DeliveryOutcome.Bounced, "5.7.1", "mail to command is restricted");
            else if (x.Seen.Add($"command {aliasAddress}:{ctx.Privs?.Uid} {target[1..]}"))
                x.Deliveries.Add(new CommandDelivery(aliasAddress, aliasAddress, ctx.Sender, target[1..].Trim(), ctx.Privs, aliasAddress, Mailbox: false));
            return;
        }
        if (target.StartsWith('/'))
        {
            if ((_o.MailToFiles & ctx.Source) == 0)
                Add(x, aliasAddress, ctx, DeliveryOutcome.Bounced, "5.7.1", "mail to file is restricted");
            else if (x.Seen.Add("file " + target))
                x.Deliveries.Add(new FileDelivery(aliasAddress, aliasAddress, ctx.Sender, target, ctx.Privs));
            return;
        }
        if (target.StartsWith("error:", StringComparison.OrdinalIgnoreCase))
        {
            ErrorTarget(x, target["error:".Length..].Trim(), aliasAddress, ctx);
            return;
        }
        if (target.StartsWith(":include:", StringComparison.OrdinalIgnoreCase))
        {
            ExpandInclude(x, target[":include:".Length..].Trim(), aliasAddress, ctx, level);
            return;
        }
        int at = target.LastIndexOf('@');
        if (at >= 0)
        {
            string domain = target[(at + 1)..];
            if (!IsMyDestination(domain))
            {
                if (x.Seen.Add("forward " + target.ToLowerInvariant())) x.Forward.Add(Forwarded(target, aliasAddress, ctx));
                return;
            }
            ExpandName(x, Unquote(target[..at]).ToLowerInvariant(), target.TrimStart('\\'), ctx, level);
            return;
        }
        string local = Unquote(target).ToLowerInvariant();
        // Postfix trivial-rewrite (append_at_myorigin): an unqualified alias result becomes
        // local@$myorigin, which is delivered here only when $myorigin is in mydestination.
        string origin = _o.MyOrigin.Length > 0 ? _o.MyOrigin : _o.MyHostname;
        string bare = local.TrimStart('\\');
        if (!IsMyDestination(origin))
        {
            if (x.Seen.Add($"forward {bare}@{origin}")) x.Forward.Add(Forwarded($"{bare}@{origin}", aliasAddress, ctx));
            return;
        }
        ExpandName(x, local, $"{bare}@{origin}", ctx, level);
    }

    /// <summary>aliases(5) <c>:include:</c>: the file lists more targets, separated by commas or
    /// line breaks; <c>#</c> lines are comments. Its commands and files run with the rights of
    /// the file's owner when that is not root (Postfix include.c).</summary>
    /// <remarks>DEVIATION: Postfix opens the file with the rights of the expansion it came from;
    /// an alias map's file is read here with the daemon's, a .forward's as the user.</remarks>
    private void ExpandInclude(Expansion x, string path, string aliasAddress, Ctx ctx, int level)
    {
        if (!x.Seen.Add("include " + path)) return;
        string text;
        uint owner, group;
        try
        {
            using (ctx.Source == LocalSources.Forward && ctx.Privs is { } p ? FsIdentity.Become(p.Uid, p.Gid) : null)
            {
                text = File.ReadAllText(path);
                LibC.TryStat(path, out var st, out _);
                (owner, group) = (st.Uid, st.Gid);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string why = e is FileNotFoundException or DirectoryNotFoundException ? "No such file or directory"
                : e is UnauthorizedAccessException ? "Permission denied" : e.Message;
            Add(x, aliasAddress, ctx, DeliveryOutcome.Deferred, "4.3.0", $"cannot open include file {path}: {why}");
            return;
        }
        var privs = owner != 0 ? OwnerPrivs(owner, group) : ctx.Privs;
        var inner = ctx with { Source = LocalSources.Include, Privs = privs };
        var lines = text.Split('\n').Where(l => !l.TrimStart().StartsWith('#'));
        foreach (var t in AliasFile.SplitTargets(string.Join('\n', lines)))
            ExpandTarget(x, t, aliasAddress, inner, level + 1);
    }

    private void Loop(Expansion x, string address, string name)
    {
        // Postfix alias.c: warning and bounce "alias database loop for NAME", 5.4.6.
        _log.Warning(Program, $"alias database loop for {name}");
        x.Results.Add(Result(address, x.Original, DeliveryOutcome.Bounced, "5.4.6", $"alias database loop for {name}"));
    }

    private static void Add(Expansion x, string address, Ctx ctx, DeliveryOutcome outcome, string dsn, string text) =>
        x.Results.Add(Result(address, x.Original, outcome, dsn, text) with { ErrorsTo = ctx.Sender });
}
