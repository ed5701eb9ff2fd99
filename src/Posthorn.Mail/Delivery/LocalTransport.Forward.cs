using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>~/.forward files and unknown users (Postfix local(8) dotforward.c, unknown.c).</summary>
/// <remarks>
/// Postfix local(8): forward_path lists candidate files, $name-expanded (values through
/// forward_expansion_filter); "the local delivery agent tries each pathname in the list until a
/// file is found". The file is looked at and read with the recipient's rights. It is skipped,
/// with a warning, when it is not a regular file, belongs to someone other than the user or root,
/// or is world-writable. Each line has the syntax of an alias value. "When a user is listed in the
/// user's own ~/.forward file, delivery is made to the user's mailbox instead. An empty
/// ~/.forward file means do not forward mail." Targets run with the user's rights
/// (default_privs for root).
/// </remarks>
public sealed partial class LocalTransport
{
    /// <summary>A .forward larger than this is not read (Postfix bounds each line by line_length_limit).</summary>
    private const int ForwardFileLimit = 1 << 20;

    /// <returns>true when a .forward took over the delivery.</returns>
    private bool TryForward(Expansion x, SystemUser user, string name, string? extension, string address, Ctx ctx, int level)
    {
        if (_o.ForwardPath.Count == 0) return false;
        var attrs = Attributes(user, name, extension, address);
        string? missed = null;   // the default forward_path names ~/.forward twice when there is no extension
        foreach (var template in _o.ForwardPath)
        {
            if (!LocalExpand.TryExpand(template, attrs, _o.ForwardExpansionFilter, out var path))
            {
                _log.Warning(Program, $"bad parameter value syntax for forward_path: {template}");
                continue;
            }
            if (path.Length == 0) continue;
            if (x.Seen.Contains("forward-file " + path)) return true; // Postfix been_here: one expansion per message
            if (path == missed) continue;   // looked at a moment ago: missing or unusable, and said so once
            var targets = ReadForward(user, path);
            if (targets is null)
            {
                missed = path;
                continue;
            }
            if (targets.Count == 0) return false;
            x.Seen.Add("forward-file " + path);
            var inner = new Ctx(LocalSources.Forward, user.Name, new Privs((uint)user.Uid, (uint)user.Gid, user.Home, user.Shell), ctx.Sender);
            foreach (var t in targets) ExpandTarget(x, t, address, inner, level + 1);
            return true;
        }
        return false;
    }

    /// <summary>The targets of one .forward, or null when it does not exist or may not be used.</summary>
    private List<string>? ReadForward(SystemUser user, string path)
    {
        using (FsIdentity.Become((uint)user.Uid, (uint)user.Gid))
        {
            if (!LibC.TryLstat(path, out var st, out int errno))
            {
                if (errno is not (LibC.ENOENT or 20 /* ENOTDIR */))
                    _log.Warning(Program, $"cannot examine file {path}: {LibC.StrError(errno)}");
                return null;
            }
            if (!st.IsRegular) { _log.Warning(Program, $"file {path} is not a regular file"); return null; }
            if (st.Uid != 0 && st.Uid != (uint)user.Uid) { _log.Warning(Program, $"file {path} has bad owner uid {st.Uid}"); return null; }
            if ((st.Mode & 0x2) != 0) { _log.Warning(Program, $"file {path} is world writable"); return null; }
            if (st.Size > ForwardFileLimit) { _log.Warning(Program, $"file {path} is too large"); return null; }
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Warning(Program, $"cannot open file {path}: {(e is UnauthorizedAccessException ? "Permission denied" : e.Message)}");
                return null;
            }
            var lines = text.Split('\n').Where(l => !l.TrimStart().StartsWith('#'));
            return AliasFile.SplitTargets(string.Join('\n', lines));
        }
    }

    /// <summary>A recipient that is neither an alias nor an account: luser_relay when set, else
    /// bounced as Postfix does ("unknown user").</summary>
    private void Unknown(Expansion x, string name, string bare, string? extension, string address, Ctx ctx, int level)
    {
        // Postfix local(8) unknown.c: fallback_transport_maps (by user name), then fallback_transport, come
        // before luser_relay.
        if (!TryTransportMap(x, _o.FallbackTransportMaps, bare, address, ctx, out var transport)) return;
        transport ??= _o.FallbackTransport.Length > 0 ? _o.FallbackTransport : null;
        if (transport is not null)
        {
            x.Results.Add(Pass(x, address, ctx, transport));
            return;
        }
        if (_o.LuserRelay.Length == 0 || ctx.LuserDone)
        {
            Add(x, address, ctx, DeliveryOutcome.Bounced, "5.1.1", $"unknown user: \"{bare}\"");
            return;
        }
        var attrs = Attributes(new SystemUser(bare, -1, -1, "", ""), name, extension, address);
        attrs["home"] = null;
        attrs["shell"] = null;
        if (!LocalExpand.TryExpand(_o.LuserRelay, attrs, null, out var relay) || relay.Length == 0)
        {
            _log.Warning(Program, $"bad parameter value syntax for luser_relay: {_o.LuserRelay}");
            Add(x, address, ctx, DeliveryOutcome.Deferred, "4.3.5", "mail system configuration error");
            return;
        }
        // Postfix postconf(5) luser_relay: "@domain" means the recipient's local part at that domain.
        if (relay.StartsWith('@')) relay = name + relay;
        ExpandTarget(x, relay, address, ctx with { LuserDone = true, ExpandedFrom = null }, level + 1);
    }

    /// <summary>The $name values of local_expand for one recipient.</summary>
    private Dictionary<string, string?> Attributes(SystemUser user, string name, string? extension, string address)
    {
        int at = address.LastIndexOf('@');
        return new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["user"] = user.Name,
            ["home"] = user.Home,
            ["shell"] = user.Shell,
            ["recipient"] = address,
            ["extension"] = extension,
            ["domain"] = at >= 0 ? address[(at + 1)..] : _o.MyHostname,
            ["local"] = name,
            ["recipient_delimiter"] = extension is null ? "" : RecipientDelimiterUsed(name),
        };
    }

    /// <summary>The delimiter character that separated the extension in <paramref name="name"/>.</summary>
    private string RecipientDelimiterUsed(string name)
    {
        int i = name.AsSpan().IndexOfAny(_o.RecipientDelimiter);
        return i > 0 ? name[i].ToString() : _o.RecipientDelimiter;
    }
}
