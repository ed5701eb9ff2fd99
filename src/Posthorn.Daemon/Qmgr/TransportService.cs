using System.Globalization;
using Posthorn.Config;

namespace Posthorn.Daemon.Qmgr;

/// <summary>The delivery agent programs a master.cf transport row can run (its command column).</summary>
public enum DeliveryAgent
{
    Local,
    Virtual,
    Smtp,
    Lmtp,
    /// <summary>error(8): bounces with the next hop as the reason.</summary>
    Error,
    /// <summary>error(8) run as the <c>retry</c> service: defers with the next hop as the reason.</summary>
    Retry,
    /// <summary>discard(8): reports delivery, with the next hop as the reason.</summary>
    Discard,
    /// <summary>pipe(8): an external command from the row's <c>argv=</c>.</summary>
    Pipe,
}

/// <summary>One transport of transport(5) and the *_transport parameters: a master.cf <c>unix</c> row, its
/// delivery agent, and the configuration with the row's <c>-o</c> overrides.</summary>
/// <param name="Name">The service name (first master.cf column): <c>smtp</c>, <c>relay</c>, <c>dovecot</c>….</param>
/// <param name="Config">main.cf with the row's <c>-o name=value</c> overrides.</param>
public sealed record TransportService(string Name, DeliveryAgent Agent, ConfigSnapshot Config)
{
    /// <summary>Postfix's stock master.cf delivery rows, used when master.cf has no delivery rows at all.</summary>
    private static readonly Dictionary<string, DeliveryAgent> Stock = new(StringComparer.Ordinal)
    {
        ["smtp"] = DeliveryAgent.Smtp,
        ["relay"] = DeliveryAgent.Smtp,
        ["lmtp"] = DeliveryAgent.Lmtp,
        ["local"] = DeliveryAgent.Local,
        ["virtual"] = DeliveryAgent.Virtual,
        ["error"] = DeliveryAgent.Error,
        ["retry"] = DeliveryAgent.Retry,
        ["discard"] = DeliveryAgent.Discard,
    };

    /// <summary>The transport called <paramref name="name"/>, or null when there is none (Postfix qmgr then
    /// defers: "mail transport unavailable").</summary>
    /// <remarks>Postfix transport(5): a transport is "the first name of a mail delivery service entry in the
    /// Postfix master.cf file". DEVIATION: Posthorn's master.cf may list only its listeners; when it has
    /// no <c>unix</c> row running a delivery agent, Postfix's stock rows (smtp, relay, lmtp, local, virtual,
    /// error, retry, discard) are assumed. Once any such row is present, only master.cf counts. pipe(8) rows
    /// (dovecot, mailman, uucp…) are additions and do not count as such rows.</remarks>
    public static TransportService? Find(ConfigSnapshot cfg, string name)
    {
        // A pipe(8) row is found by its name; pipe rows do not turn off the stock rows (see remarks).
        if (cfg.Master.Services.FirstOrDefault(s => s.Type == "unix" && s.Command == "pipe" && s.Name == name) is { } pipe)
            return new TransportService(name, DeliveryAgent.Pipe, cfg.WithOverrides(pipe.Overrides)) { Arguments = pipe.Arguments };
        var rows = cfg.Master.Services.Where(s => s.Type == "unix" && AgentOf(s.Command, s.Name) is not null).ToList();
        if (rows.Count == 0)
            return Stock.TryGetValue(name, out var stock) ? new TransportService(name, stock, cfg) : null;
        var row = rows.FirstOrDefault(s => s.Name == name);
        return row is null ? null : new TransportService(name, AgentOf(row.Command, row.Name)!.Value, cfg.WithOverrides(row.Overrides));
    }

    /// <summary>master.cf command → agent. Postfix error(8) defers instead of bouncing when its service is
    /// called <c>retry</c>; smtp(8) speaks LMTP when run as <c>lmtp</c>.</summary>
    private static DeliveryAgent? AgentOf(string command, string service) => command switch
    {
        "smtp" => DeliveryAgent.Smtp,
        "lmtp" => DeliveryAgent.Lmtp,
        "local" => DeliveryAgent.Local,
        "virtual" => DeliveryAgent.Virtual,
        "error" => service == "retry" ? DeliveryAgent.Retry : DeliveryAgent.Error,
        "discard" => DeliveryAgent.Discard,
        _ => null,
    };

    /// <summary>The program name of its log lines (postfix/smtp, postfix/lmtp, postfix/error…).</summary>
    public string Program => Agent switch
    {
        DeliveryAgent.Retry => "error",
        _ => Agent.ToString().ToLowerInvariant(),
    };

    /// <summary>Postfix qmgr(8) <c>transport_destination_concurrency_limit</c>, else the default one.</summary>
    public int ConcurrencyLimit => Limit("destination_concurrency_limit");

    /// <summary>Postfix qmgr(8) <c>transport_destination_recipient_limit</c>, else the default one.</summary>
    public int RecipientLimit => Limit("destination_recipient_limit");

    /// <summary>The row's command arguments other than <c>-o</c> (pipe(8): <c>flags=… user=… argv=…</c>).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    private int Limit(string what)
    {
        string own = Config.Get($"{Name}_{what}");
        long n = long.TryParse(own, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : Config.GetNumber($"default_{what}");
        // Postfix: a limit of 0 means no limit.
        return (int)(n <= 0 ? 10_000 : Math.Min(n, 10_000));
    }
}
