using System.Net;
using Posthorn.Core;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Tools;

/// <summary><c>postfix explain --relay-test</c>: the open-relay battery against the live configuration.</summary>
public static partial class PostfixExplain
{
    /// <summary>The remote domain of the battery (RFC 2606: reserved, never a real destination).</summary>
    public const string RemoteDomain = "relay-test.example";

    /// <summary>The sender of the battery, from outside as a relay abuser's would be.</summary>
    public const string TestSender = "relay-test@example.net";

    /// <summary>The open-relay address forms, built on <paramref name="local"/> (a domain this host delivers
    /// to) and <paramref name="remote"/>: each one, if accepted from outside, would carry mail to
    /// <paramref name="remote"/> (or to an address literal that is not this host's).</summary>
    public static IReadOnlyList<string> RelayForms(string local, string remote) =>
    [
        $"relaytest@{remote}",
        $"relaytest%{remote}@{local}",
        $"{remote}!relaytest@{local}",
        $"@{local}:relaytest@{remote}",
        $"\"relaytest@{remote}\"@{local}",
        $"relaytest@{remote}@{local}",
        $"\"relaytest%{remote}\"@{local}",
        $"\"{remote}!relaytest\"@{local}",
        $"relaytest%{remote}%{local}@{local}",
        $"relaytest@[192.0.2.254]",
        $"relaytest@[127.0.0.1]",
        $"relaytest@{remote.ToUpperInvariant()}",
        $"relaytest@{remote}.",
        $"relaytest%{remote}@{local.ToUpperInvariant()}.",
        $"{remote}!relaytest",
        $"relaytest%{remote}",
    ];

    /// <summary>The domain the battery wraps its forms in: the first plain name of mydestination, else myhostname.</summary>
    private static string LocalDomain(Explainer ex)
    {
        foreach (string name in ex.Settings.MyDestination.Names)
        {
            if (name.Length > 0 && name.IndexOfAny([':', '/', '[', '$']) < 0 && name != "localhost")
                return name.ToLowerInvariant();
        }
        return ex.Settings.Config.Get("myhostname").ToLowerInvariant();
    }

    private static async Task<int> RelayTestAsync(Explainer ex, IPAddress client, ToolContext ctx, CancellationToken ct)
    {
        var o = ctx.Out;
        string local = LocalDomain(ex);
        var session = ex.Session(client, "unknown", "relay-test.example.net", sasl: null);
        SmtpCommandParser.TryParsePath("<relay-test@example.net>"u8, allowNullPath: false, strictRfc821: false, out var sender);
        bool inside = ex.Settings.MyNetworks.Contains(client);
        o.WriteLine($"relay test: client {session.ClientDescription}{(inside ? " (in mynetworks)" : " (outside mynetworks)")}, "
            + $"not authenticated, sender <{TestSender}>, local domain {local}, remote domain {RemoteDomain}");
        var relayed = new List<(string Form, string To)>();
        var forms = RelayForms(local, RemoteDomain);
        foreach (string form in forms)
        {
            string line = $"<{form}>";
            if (!TryParseAddress(form, allowNull: false, out var rcpt))
            {
                o.WriteLine($"  {line,-50} refused: {SmtpReplies.BadRecipient} (address syntax)");
                continue;
            }
            var (decision, _) = await ex.CheckRecipientAsync(session, sender, rcpt, ct);
            var resolved = ex.Relay.Resolve(rcpt);
            if (decision.Reply is { } refused)
            {
                o.WriteLine($"  {line,-50} refused: {refused}");
            }
            else if (!resolved.Authorized)
            {
                // Accepted, and it goes to a destination that is neither ours nor one we relay for.
                o.WriteLine($"  {line,-50} ACCEPTED: would be relayed to {resolved.Recipient}");
                relayed.Add((form, resolved.Recipient));
            }
            else
            {
                o.WriteLine($"  {line,-50} accepted: delivered here ({resolved.Recipient}), not relayed");
            }
        }
        foreach (string w in ex.TakeLog())
            o.WriteLine($"log: {w}");
        if (relayed.Count == 0)
        {
            o.WriteLine($"not an open relay: none of the {forms.Count} forms would be relayed from {client}");
            return 0;
        }
        o.WriteLine($"OPEN RELAY: {relayed.Count} of {forms.Count} forms would be relayed from {client}:");
        foreach (var (form, to) in relayed)
            o.WriteLine($"  <{form}> -> {to}");
        return 1;
    }
}
