using System.Net;
using System.Text;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Daemon.Policy;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Outbound;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Tools;

/// <summary><c>posthorn postfix explain</c>: runs the configured smtpd restriction lists for one imagined mail
/// transaction, without a connection and without sending mail, and prints each list, each restriction, each
/// table lookup and DNS query it made, and the decision with the reply the client would get.</summary>
/// <remarks>
/// Usage: <c>postfix [-c DIR] explain --client ADDR [--client-name NAME] [--helo NAME] [--sasl USER]
/// [--from ADDR] --to ADDR</c>, or <c>postfix [-c DIR] explain --relay-test [--client ADDR]</c>
/// (PostfixExplain.RelayTest.cs). Exit status: 0 when the mail would be accepted (with --relay-test: when the
/// server is not an open relay), 1 when it would be refused (an open relay), 64 for a usage error, 78 for a
/// configuration that cannot be read.
/// The evaluation is smtpd's own (<see cref="RestrictionEvaluator"/> with smtpd_delay_reject = yes semantics:
/// the client, HELO, sender, relay and recipient lists all run at RCPT TO, then smtpd_data_restrictions at DATA),
/// on main.cf as it is now; DNS lists and reverse lookups use posthorn_dns_servers as smtpd does.
/// DEVIATION: master.cf <c>-o</c> overrides of a particular smtpd service are not applied, and the per-client
/// rate limits (anvil) are not consulted.
/// Security: reads the configuration and the tables it names; sends nothing; a check_policy_service server is
/// asked as smtpd would ask it.
/// </remarks>
public static partial class PostfixExplain
{
    private const string Usage =
        "postfix: fatal: usage: postfix explain --client ADDR [--client-name NAME] [--helo NAME] [--sasl USER] [--from ADDR] --to ADDR"
        + " | postfix explain --relay-test [--client ADDR]";

    /// <summary>The question: who connects, what they say, whom they write to.</summary>
    private sealed record Question(IPAddress Client, string ClientName, string? Helo, string? Sasl, string From, string? To, bool RelayTest);

    public static async Task<int> RunAsync(string[] args, ToolContext ctx, string configDirectory)
    {
        if (!TryParse(args, ref configDirectory, out var q, out string? problem))
        {
            if (problem is not null) ctx.Err.WriteLine($"postfix: fatal: {problem}");
            ctx.Err.WriteLine(Usage);
            return 64;
        }
        var sink = new MemoryLogSink();
        Explainer ex;
        try
        {
            ex = new Explainer(ConfigSnapshot.Load(configDirectory), sink, ctx.Clock);
        }
        catch (ConfigException e)
        {
            ctx.Err.WriteLine($"postfix: fatal: {e.Message}");
            return 78;
        }
        return q.RelayTest
            ? await RelayTestAsync(ex, q.Client, ctx, CancellationToken.None)
            : await ExplainAsync(ex, q, ctx.Out, CancellationToken.None);
    }

    private static bool TryParse(string[] args, ref string configDirectory, out Question q, out string? problem)
    {
        q = null!;
        problem = null;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        bool relayTest = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--relay-test") { relayTest = true; continue; }
            if (a is "-c" or "--client" or "--client-name" or "--helo" or "--sasl" or "--from" or "--to" && i + 1 < args.Length)
            {
                values[a] = args[++i];
                continue;
            }
            problem = $"explain: unexpected argument: {a}";
            return false;
        }
        if (values.TryGetValue("-c", out string? dir)) configDirectory = dir;
        // The relay test speaks for a hypothetical outside client (RFC 5737 TEST-NET-1) unless told otherwise.
        string clientText = values.GetValueOrDefault("--client") ?? (relayTest ? "192.0.2.1" : "");
        if (!IPAddress.TryParse(clientText.Trim('[', ']'), out var client))
        {
            problem = clientText.Length == 0 ? "explain: --client ADDR is required" : $"explain: bad client address: {clientText}";
            return false;
        }
        if (!relayTest && !values.ContainsKey("--to"))
        {
            problem = "explain: --to ADDR is required";
            return false;
        }
        q = new Question(client, values.GetValueOrDefault("--client-name") ?? "unknown", values.GetValueOrDefault("--helo"),
            values.GetValueOrDefault("--sasl"), values.GetValueOrDefault("--from") ?? "", values.GetValueOrDefault("--to"), relayTest);
        return true;
    }

    /// <summary>The address as smtpd's parser takes it from <c>MAIL FROM:&lt;…&gt;</c> / <c>RCPT TO:&lt;…&gt;</c>.</summary>
    private static bool TryParseAddress(string text, bool allowNull, out SmtpPath path)
    {
        string bracketed = text.StartsWith('<') ? text : "<" + text + ">";
        return SmtpCommandParser.TryParsePath(Encoding.UTF8.GetBytes(bracketed), allowNull, strictRfc821: false, out path);
    }

    private static async Task<int> ExplainAsync(Explainer ex, Question q, TextWriter o, CancellationToken ct)
    {
        var session = ex.Session(q.Client, q.ClientName, q.Helo, q.Sasl);
        o.WriteLine($"client: {session.ClientDescription}{(ex.Settings.MyNetworks.Contains(q.Client) ? " (in mynetworks)" : "")}");
        o.WriteLine($"helo: {(q.Helo is null ? "(none)" : "<" + q.Helo + ">")}");
        o.WriteLine($"sasl: {(q.Sasl is null ? "(not authenticated)" : q.Sasl)}");
        if (!TryParseAddress(q.From, allowNull: true, out var sender))
            return Final(o, SmtpReplies.BadSender, "MAIL FROM");
        if (!TryParseAddress(q.To!, allowNull: false, out var rcpt))
            return Final(o, SmtpReplies.BadRecipient, "RCPT TO");
        o.WriteLine($"from: <{sender}>");
        o.WriteLine($"to: <{rcpt}>");
        // Postfix smtpd_helo_required: MAIL before HELO/EHLO is refused.
        if (q.Helo is null && ex.Settings.Config.GetBool("smtpd_helo_required"))
            return Final(o, SmtpReplies.SendHeloFirst, "MAIL FROM");
        o.WriteLine("smtpd_delay_reject = yes semantics: the client, HELO, sender, relay and recipient lists run at RCPT TO");

        var (decision, trace) = await ex.CheckRecipientAsync(session, sender, rcpt, ct);
        Print(o, trace, ex);
        if (decision.Reply is { } refused)
        {
            if (LastReject(trace) != refused)
                o.WriteLine(trace.Events.Count == 0
                    ? $"address check (before the lists): {refused}"
                    : $"after the lists (recipient tables or a pending defer_if_permit): {refused}");
            PrintLog(o, ex);
            return Final(o, refused, "RCPT TO");
        }
        PrintActions(o, decision);
        var (data, dataTrace) = await ex.CheckDataAsync(session, sender, rcpt, ct);
        Print(o, dataTrace, ex);
        PrintLog(o, ex);
        if (data.Reply is { } dataRefused)
            return Final(o, dataRefused, "DATA");
        PrintActions(o, data);
        o.WriteLine("decision: accept");
        o.WriteLine($"reply: {SmtpReplies.RcptOk}");
        return 0;
    }

    private static int Final(TextWriter o, SmtpReply reply, string command)
    {
        o.WriteLine($"decision: {(reply.IsTransient ? "defer" : "reject")} at {command}");
        o.WriteLine($"reply: {reply}");
        return 1;
    }

    private static SmtpReply? LastReject(RestrictionTrace trace) =>
        trace.Events.LastOrDefault(e => e.Kind == "restriction" && e.Reply is not null)?.Reply;

    /// <summary>One line per event, indented by list depth.</summary>
    private static void Print(TextWriter o, RestrictionTrace trace, Explainer ex)
    {
        // A restriction is reported after its lookups were made; print it first and its lookups under it.
        var pending = new List<string>();
        foreach (var e in trace.Events)
        {
            string pad = new(' ', 2 * e.Depth);
            switch (e.Kind)
            {
                case "list" when e.Depth <= 1:
                    o.WriteLine($"stage {e.Name} = {e.Text}");
                    break;
                case "list":
                    o.WriteLine($"{pad}list ({e.Name}) = {e.Text}");
                    break;
                case "restriction":
                    string arg = e.Argument is null ? "" : " " + e.Argument;
                    o.WriteLine($"{pad}{e.Name}{arg}: {e.Text}{(e.Reply is { } r ? " -> " + r : "")}");
                    pending.ForEach(o.WriteLine);
                    pending.Clear();
                    break;
                case "lookup":
                    pending.Add($"{pad}  lookup {e.Name}: {e.Text}");
                    break;
                case "dns":
                    pending.Add($"{pad}  dns {e.Name} {e.Argument}: {e.Text}");
                    break;
            }
            if (e.Kind == "restriction" && e.Name is "reject_unauth_destination" or "defer_unauth_destination" && ex.LastRecipient is { } rcpt)
            {
                var res = ex.Relay.Resolve(rcpt);
                o.WriteLine($"{pad}  resolved: {res.Recipient} (class {res.Class.ToString().ToLowerInvariant()}"
                    + $"{(res.Routed ? ", sender-specified routing" : "")}{(res.SyntaxError ? ", invalid domain" : "")})"
                    + $" -> {(res.Authorized ? "authorized destination" : "not an authorized destination")}");
            }
        }
    }

    private static void PrintActions(TextWriter o, PolicyDecision d)
    {
        if (d.Hold) o.WriteLine("action: HOLD (the message goes to the hold queue)");
        if (d.Discard) o.WriteLine("action: DISCARD (accepted, then thrown away)");
        foreach (string header in d.Prepend) o.WriteLine($"action: PREPEND {header}");
        if (d.Redirect is { } to) o.WriteLine($"action: REDIRECT {to}");
        if (d.Filter is { } f) o.WriteLine($"action: FILTER {f}");
    }

    private static void PrintLog(TextWriter o, Explainer ex)
    {
        foreach (string line in ex.TakeLog())
            o.WriteLine($"log: {line}");
    }

    /// <summary>smtpd's evaluator over one configuration, with a fresh trace per check.</summary>
    private sealed class Explainer
    {
        private readonly MemoryLogSink _sink;
        private readonly MailLog _log;
        private readonly LocalTransport _local;
        private readonly IDnsResolver _dns;
        private readonly PtrLookup _ptr;
        private int _logShown;

        public Explainer(ConfigSnapshot cfg, MemoryLogSink sink, TimeProvider clock)
        {
            _sink = sink;
            _log = new MailLog(sink, cfg.Get("syslog_name"), cfg.Get("myhostname"), clock);
            Settings = Settings.From(cfg, _log);
            _local = new LocalTransport(Settings.Local, new PasswdUserDatabase(), clock, _log);
            // As smtpd: posthorn_dns_servers, else resolv.conf; the resolver is made on the first query.
            _dns = new LazyDnsResolver(() => new DnsClientResolver(Settings.Outbound.DnsServers, TimeSpan.FromSeconds(5)));
            _ptr = new PtrLookup(Settings.Outbound.DnsServers, TimeSpan.FromSeconds(5));
            Relay = RelayAddress.For(Settings, Settings.Restrictions);
        }

        public Settings Settings { get; }
        public RelayAddress Relay { get; }
        public SmtpPath? LastRecipient { get; private set; }

        public SmtpSessionInfo Session(IPAddress client, string name, string? helo, string? sasl) => new()
        {
            Client = new IPEndPoint(client, 0),
            ClientName = name,
            HeloName = helo,
            Protocol = helo is null ? "SMTP" : "ESMTP",
            SaslMethod = sasl is null ? null : "PLAIN",
            SaslUsername = sasl,
        };

        private RestrictionEvaluator Evaluator(RestrictionTrace trace) =>
            new(Settings, Settings.Restrictions, new TracingDnsResolver(_dns, trace), _log, _local.IsLocalRecipient)
            {
                Trace = trace,
                ReverseLookup = _ptr.ReverseNameAsync,
            };

        public async Task<(PolicyDecision, RestrictionTrace)> CheckRecipientAsync(SmtpSessionInfo session, SmtpPath sender,
            SmtpPath rcpt, CancellationToken ct)
        {
            var trace = new RestrictionTrace();
            LastRecipient = rcpt;
            var decision = await Evaluator(trace).CheckRecipientAsync(new PolicyRequest(session, sender, rcpt, "RCPT"), ct);
            return (decision, trace);
        }

        public async Task<(PolicyDecision, RestrictionTrace)> CheckDataAsync(SmtpSessionInfo session, SmtpPath sender,
            SmtpPath rcpt, CancellationToken ct)
        {
            var trace = new RestrictionTrace();
            var decision = await Evaluator(trace).CheckDataAsync(new PolicyRequest(session, sender, rcpt, "DATA"), ct);
            return (decision, trace);
        }

        /// <summary>The log lines (warnings) written since the last call.</summary>
        public IReadOnlyList<string> TakeLog()
        {
            var lines = _sink.Lines;
            var fresh = lines.Skip(_logShown).ToArray();
            _logShown = lines.Count;
            return fresh;
        }
    }
}
