using System.Net;
using System.Net.Sockets;
using Posthorn.Config;
using Posthorn.Config.Tables;

namespace Posthorn.Daemon.Tools;

/// <summary><c>postfix check</c> beyond Postfix: what Posthorn ignores in a Postfix configuration, and the
/// mistakes administrators make most, each as one warning that says why and what to change.</summary>
public static partial class PostfixCheck
{
    /// <summary>master.cf commands that Posthorn runs: its listeners, and the Postfix services whose work its one
    /// daemon process does itself (DESIGN.md decision 1), so that their rows need nothing.</summary>
    private static readonly HashSet<string> ImplementedCommands =
    [
        "smtpd", "imapd", "pop3d", "pickup", "cleanup", "qmgr", "trivial-rewrite", "bounce", "local", "smtp", "error",
        "discard", "showq", "flush", "tlsmgr", "proxymap", "scache", "postlogd",
    ];

    /// <summary>One warning per main.cf parameter and master.cf service that Postfix knows and Posthorn ignores.</summary>
    private static IEnumerable<string> NotImplemented(ConfigSnapshot cfg)
    {
        string main = Path.Combine(cfg.ConfigDirectory, "main.cf");
        foreach (var (name, line) in cfg.NotImplemented)
            yield return $"{main}, line {line}: {name} is a Postfix parameter that Posthorn does not implement; it has no effect";
        string master = Path.Combine(cfg.ConfigDirectory, "master.cf");
        foreach (var s in cfg.Master.Services)
        {
            if (!ImplementedCommands.Contains(s.Command))
                yield return $"{master}, line {s.Line}: service {s.Name}/{s.Type}: command {s.Command} is not implemented by Posthorn; the service is ignored";
        }
    }

    /// <summary>The advice checks (issue: "the mistakes administrators make most").</summary>
    private static IEnumerable<string> Advice(ConfigSnapshot cfg)
    {
        string main = Path.Combine(cfg.ConfigDirectory, "main.cf");
        string At(string name) => cfg.LineOf(name) > 0 ? $"{main}, line {cfg.LineOf(name)}: " : $"{main}: ";

        // Postfix postconf(5) mynetworks_style: "class" and "subnet" trust whole networks, not just this host.
        string style = cfg.Get("mynetworks_style").Trim().ToLowerInvariant();
        if (!cfg.IsSet("mynetworks") && style is "class" or "subnet")
            yield return $"{At("mynetworks_style")}mynetworks_style = {style} trusts (relays for) every host on this machine's {(style == "class" ? "class A/B/C networks" : "subnets")}: open-relay risk; set mynetworks to the networks you trust, or mynetworks_style = host";
        foreach (string item in cfg.IsSet("mynetworks") ? cfg.GetList("mynetworks") : [])
        {
            if (WideNetwork(item) is { } width)
                yield return $"{At("mynetworks")}mynetworks entry {item} trusts {width}: open-relay risk; list only the networks of your own clients (a /24 or narrower)";
        }

        // Postfix ADDRESS_CLASS_README: a domain is local or virtual, never both.
        var local = new HashSet<string>(cfg.GetList("mydestination").Where(IsPlainDomain).Select(d => d.ToLowerInvariant()), StringComparer.Ordinal);
        foreach (string param in new[] { "virtual_alias_domains", "virtual_mailbox_domains" })
        {
            foreach (string d in cfg.GetList(param).Where(IsPlainDomain))
            {
                if (local.Contains(d.ToLowerInvariant()))
                    yield return $"{At(param)}do not list domain {d} in BOTH mydestination and {param}: mail for it would go to local users; remove it from one of them";
            }
        }

        // Postfix local(8): only a home_mailbox that ends in "/" is a Maildir.
        string home = cfg.Get("home_mailbox").Trim();
        if (home.Equals("Maildir", StringComparison.OrdinalIgnoreCase) || home.EndsWith("/Maildir", StringComparison.OrdinalIgnoreCase))
            yield return $"{At("home_mailbox")}home_mailbox = {home} delivers to an mbox file named {home}; write {home}/ (with the slash) for Maildir delivery";

        // Postfix local(8)/virtual(8) stop with a fatal error when the mailbox limit is below the message limit.
        if (TryNumber(cfg, "mailbox_size_limit", out long mailbox) && TryNumber(cfg, "message_size_limit", out long message)
            && mailbox != 0 && (message == 0 || mailbox < message))
            yield return $"{At("mailbox_size_limit")}mailbox_size_limit ({mailbox}) is smaller than message_size_limit ({(message == 0 ? "no limit" : message)}): a message that was accepted could never be delivered; raise mailbox_size_limit or set it to 0";

        // Postfix 3.7.10 (SMTP smuggling): bare <LF> accepted as end of line lets a client smuggle a second message.
        if (cfg.IsSet("smtpd_forbid_bare_newline") && cfg.Get("smtpd_forbid_bare_newline").Trim().Equals("no", StringComparison.OrdinalIgnoreCase))
            yield return $"{At("smtpd_forbid_bare_newline")}smtpd_forbid_bare_newline = no accepts a bare newline as end of line, which allows SMTP smuggling; remove the setting or set it to yes";

        foreach (var s in cfg.Master.Services.Where(s => s.Command == "smtpd"))
        {
            var svc = cfg.WithOverrides(s.Overrides);
            string where = $"{Path.Combine(cfg.ConfigDirectory, "master.cf")}, line {s.Line}: service {s.Name}/{s.Type}: ";
            // Postfix smtpd(8) refuses to start when neither list can reject mail for other destinations.
            string[] relay = [.. svc.GetList("smtpd_relay_restrictions"), .. svc.GetList("smtpd_recipient_restrictions")];
            if (!relay.Any(r => r is "reject_unauth_destination" or "defer_unauth_destination" or "reject" or "defer" or "defer_if_permit"))
                yield return $"{where}neither smtpd_relay_restrictions nor smtpd_recipient_restrictions rejects unauthorised destinations: open relay; add reject_unauth_destination (or defer_unauth_destination)";
            if (s.Name is "submission" || s.Name.EndsWith(":submission", StringComparison.Ordinal) || s.Name.EndsWith(":587", StringComparison.Ordinal) || s.Name == "587")
            {
                bool tls = svc.Get("smtpd_tls_security_level").Trim() == "encrypt" || svc.Get("smtpd_tls_wrappermode").Trim() == "yes";
                bool sasl = svc.Get("smtpd_sasl_auth_enable").Trim() == "yes";
                // RFC 6409 §4.3, RFC 8314 §3.3: submission authenticates its users, over TLS.
                if (!tls)
                    yield return $"{where}submission without mandatory TLS: passwords and mail may cross the network in clear text; add -o smtpd_tls_security_level=encrypt";
                if (!sasl)
                    yield return $"{where}submission without SASL authentication: users cannot log in to send; add -o smtpd_sasl_auth_enable=yes";
            }
        }
    }

    private static bool IsPlainDomain(string item) => item.Length > 0 && !item.Contains(':') && !item.StartsWith('/') && !item.StartsWith('!');

    private static bool TryNumber(ConfigSnapshot cfg, string name, out long value)
    {
        value = 0;
        try
        {
            value = cfg.GetNumber(name);
            return true;
        }
        catch (ConfigException)
        {
            return false; // The typed-parameter check reports it.
        }
    }

    /// <summary>For a mynetworks entry wider than an IPv4 /24 or an IPv6 /64 (loopback excepted): how many
    /// addresses it covers, as words; otherwise null.</summary>
    private static string? WideNetwork(string item)
    {
        if (item.StartsWith('!') || item.StartsWith('/') || LookupTables.IsTableReference(item))
            return null;
        string text = item.Replace("[", "", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal);
        int slash = text.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(text[..slash], out var address) || !int.TryParse(text[(slash + 1)..], out int prefix))
            return null;
        if (IPAddress.IsLoopback(address))
            return null;
        bool v4 = address.AddressFamily == AddressFamily.InterNetwork;
        if (v4 ? prefix >= 24 : prefix >= 64)
            return null;
        return prefix == 0 ? "the whole Internet" : v4 ? $"{1L << (32 - prefix)} addresses" : $"2^{128 - prefix} addresses";
    }
}
