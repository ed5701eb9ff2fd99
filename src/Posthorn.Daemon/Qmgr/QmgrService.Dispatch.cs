using Posthorn.Config.Tables;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Bounce;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Qmgr;

/// <summary>Hands recipients to their transport by name, as master.cf rows define transports
/// (Postfix qmgr(8) → delivery agents over private/TRANSPORT).</summary>
public sealed partial class QmgrService
{
    private static readonly EnhancedStatus TransportUnavailable = new(4, 3, 0);

    /// <summary>local(8)'s concurrency windows, one per recipient: its deliveries wait for their turn on the delivery
    /// threads, which take them back to back.</summary>
    private readonly DeliveryLanes _lanes = new();

    /// <summary>One delivery round of one message: what every transport of the round needs.</summary>
    private sealed record RoundContext(QueuedMessage Message, DateTimeOffset ActiveAt, Settings Settings, DeliveryRound Round, CancellationToken Ct);

    /// <summary>A recipient handed to a transport: its queue index (-1 when local(8) passed it on) and addresses.</summary>
    private sealed record Target(int Index, string Address, string? OriginalRecipient);

    /// <summary>What a transport did for one target.</summary>
    private readonly record struct TargetResult(DeliveryOutcome Outcome, EnhancedStatus Dsn, string Text,
        string? RemoteMta = null, string? Diagnostic = null);

    /// <summary>Files a queue recipient's result: sent is done, deferred goes to the defer log, bounced waits
    /// for its notice (<see cref="DeliveryRound.Bounce"/>).</summary>
    private void SettleQueued(RoundContext c, Target t, TargetResult r)
    {
        r = Soften(c.Settings, r);   // soft_bounce
        switch (r.Outcome)
        {
            case DeliveryOutcome.Deferred:
                DeferLog.Append(queue, c.Message.Id, t.Address, r.Dsn, r.Text);
                c.Round.Settle(t.Index, done: false);
                break;
            case DeliveryOutcome.Bounced:
                c.Round.Bounce(t.Index, new BouncedRecipient(t.Address, t.OriginalRecipient, r.Dsn, r.Text, r.RemoteMta, r.Diagnostic));
                break;
            default:
                c.Round.Settle(t.Index, done: true);
                break;
        }
    }

    /// <summary>Delivers <paramref name="targets"/>, all routed to (<paramref name="transport"/>,
    /// <paramref name="nexthop"/>); each result goes to <paramref name="settle"/> after its log line.</summary>
    private async Task DispatchAsync(RoundContext c, string transport, string nexthop, IReadOnlyList<Target> targets,
        Action<Target, TargetResult> settle)
    {
        var start = clock.GetUtcNow();
        var service = transports.Service(c.Settings, transport);
        if (service is null)
        {
            // Postfix qmgr(8): no master.cf row means no delivery agent listens on private/TRANSPORT.
            log.TransportUnavailable(transport);
            foreach (var t in targets)
            {
                NoteProblem(c, t, software: true, TransportUnavailable, "mail transport unavailable");
                Report(c, "qmgr", t, start, new TargetResult(DeliveryOutcome.Deferred, TransportUnavailable, "mail transport unavailable"), settle);
            }
            return;
        }
        switch (service.Agent)
        {
            case DeliveryAgent.Local:
                // Postfix local_destination_recipient_limit = 1: one recipient per delivery, in turn; the destination
                // of local_destination_concurrency_limit (default 2) is then the recipient (postconf(5),
                // transport_destination_recipient_limit).
                foreach (var t in targets)
                {
                    if (t.Index < 0)
                    {
                        // A hand-off from local(8) back to local(8) would go round forever.
                        NoteProblem(c, t, software: true, ConfigError().Dsn, ConfigError().Text);
                        Report(c, "local", t, start, ConfigError(), settle);
                        continue;
                    }
                    await DeliverLocalAsync(c, t, new DeliveryLane(_lanes, $"{service.Name}:{t.Address}", service.ConcurrencyLimit));
                }
                break;
            case DeliveryAgent.Virtual:
                foreach (var t in targets) await DeliverVirtualAsync(c, t, settle);
                break;
            case DeliveryAgent.Smtp or DeliveryAgent.Lmtp:
                var batches = targets.Chunk(service.RecipientLimit);
                await Task.WhenAll(batches.Select(b => DeliverRemoteAsync(c, service, nexthop, b, settle)));
                break;
            case DeliveryAgent.Pipe:
                foreach (var batch in targets.Chunk(service.RecipientLimit)) await DeliverPipeAsync(c, service, nexthop, batch, settle);
                break;
            default:
                foreach (var t in targets) Report(c, service.Program, t, start, ErrorOrDiscard(service.Agent, nexthop), settle);
                break;
        }
    }

    /// <summary>error(8), retry and discard(8): the next hop is the reason, optionally led by an RFC 3463 code.</summary>
    /// <remarks>Postfix error(8): "the reason for non-delivery (specified as the next-hop destination)";
    /// discard(8) "logs the next-hop destination as the reason for discarding the mail".</remarks>
    private static TargetResult ErrorOrDiscard(DeliveryAgent agent, string nexthop)
    {
        string text = nexthop;
        EnhancedStatus? code = null;
        int sp = nexthop.IndexOf(' ');
        if (EnhancedStatus.TryParse(sp < 0 ? nexthop : nexthop[..sp], out var parsed))
        {
            code = parsed;
            text = sp < 0 ? "" : nexthop[(sp + 1)..].TrimStart();
        }
        return agent switch
        {
            DeliveryAgent.Discard => new(DeliveryOutcome.Sent, code is { Class: 2 } d ? d : new EnhancedStatus(2, 0, 0), text),
            // The retry service defers; error(8) bounces; the class follows the outcome.
            DeliveryAgent.Retry => new(DeliveryOutcome.Deferred, (code ?? new EnhancedStatus(4, 0, 0)) with { Class = 4 }, text),
            _ => new(DeliveryOutcome.Bounced, (code ?? new EnhancedStatus(5, 0, 0)) with { Class = 5 }, text),
        };
    }

    private static TargetResult ConfigError() =>
        new(DeliveryOutcome.Deferred, new EnhancedStatus(4, 3, 5), "mail system configuration error");

    /// <summary>virtual(8) for one recipient; the transport logs its own line.</summary>
    private async Task DeliverVirtualAsync(RoundContext c, Target t, Action<Target, TargetResult> settle)
    {
        var start = clock.GetUtcNow();
        var message = c.Message;
        var request = new LocalDeliveryRequest(message.Id, message.Envelope.Sender, SmtpPath.FromAddress(t.Address), t.OriginalRecipient,
            message.OpenContent, message.Envelope.ArrivalTime);
        LocalDeliveryResult result;
        try
        {
            result = await transports.Virtual(c.Settings).DeliverAsync(request, c.Ct);
        }
        catch (LookupTableException e)
        {
            // Postfix virtual(8): a table lookup error defers ("table lookup failure").
            Report(c, "virtual", t, start, new TargetResult(DeliveryOutcome.Deferred, new EnhancedStatus(4, 3, 0), $"table lookup failure: {e.Message}"), settle);
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            NoteProblem(c, t, software: false, new EnhancedStatus(4, 3, 0), e.Message);
            Report(c, "virtual", t, start, new TargetResult(DeliveryOutcome.Deferred, new EnhancedStatus(4, 3, 0), e.Message), settle);
            return;
        }
        var r = result.Results[0];
        settle(t, new TargetResult(r.Outcome, r.Dsn, r.Text));
    }

    /// <summary>Logs one recipient's line (relay=none: no server was involved) and settles it.</summary>
    private void Report(RoundContext c, string program, Target t, DateTimeOffset start, TargetResult r, Action<Target, TargetResult> settle)
    {
        var env = c.Message.Envelope;
        var delays = new DeliveryDelays(c.ActiveAt - env.ArrivalTime, start - c.ActiveAt, TimeSpan.Zero, clock.GetUtcNow() - start);
        LogDelivery(c.Settings, program, c.Message.Id, new DeliveryRecord(t.Address, t.OriginalRecipient, "none", delays, r.Dsn, r.Outcome, r.Text));
        settle(t, r);
    }
}
