using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;

namespace Posthorn.Daemon.Qmgr;

/// <summary>pipe(8) transports: a master.cf row <c>name unix - n n - - pipe flags=… user=… argv=…</c>.</summary>
/// <remarks>Postfix pipe(8): the command runs once per batch of at most transport_destination_recipient_limit
/// recipients (set it to 1 for the D and O flags); every recipient of the batch shares the result, logged as
/// <c>relay=NAME</c>. Parameters: command_time_limit, recipient_delimiter, queue_directory (the default directory=).</remarks>
public sealed partial class QmgrService
{
    private async Task DeliverPipeAsync(RoundContext c, TransportService service, string nexthop, Target[] targets,
        Action<Target, TargetResult> settle)
    {
        var start = clock.GetUtcNow();
        var message = c.Message;
        if (!PipeOptions.TryParse(service.Name, service.Arguments, out var options, out string error))
        {
            log.Warning("pipe", $"{service.Name}: {error}");
            foreach (var t in targets)
            {
                NoteProblem(c, t, software: true, ConfigError().Dsn, ConfigError().Text);
                Report(c, "pipe", t, start, ConfigError(), settle);
            }
            return;
        }
        var local = c.Settings.Local;
        var pipe = new PipeTransport(options, transports.Users, local.CommandTimeLimit, local.SetprivPath, clock,
            service.Config.Get("queue_directory"));
        var request = new PipeRequest(message.Id, message.Envelope.Sender,
            targets.Select(t => new PipeRecipient(t.Address, t.OriginalRecipient)).ToList(), nexthop, message.ContentLength, message.OpenContent);
        var r = await pipe.DeliverAsync(request, service.Config.Get("recipient_delimiter"), c.Ct);
        var env = message.Envelope;
        var delays = new DeliveryDelays(c.ActiveAt - env.ArrivalTime, start - c.ActiveAt, TimeSpan.Zero, clock.GetUtcNow() - start);
        foreach (var t in targets)
        {
            LogDelivery(c.Settings, "pipe", message.Id, new DeliveryRecord(t.Address, t.OriginalRecipient, service.Name, delays, r.Dsn, r.Outcome, r.Text));
            settle(t, new TargetResult(r.Outcome, r.Dsn, r.Text));
        }
    }
}
