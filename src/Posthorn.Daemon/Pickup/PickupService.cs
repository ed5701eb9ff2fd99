using System.Threading.Channels;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Pickup;

/// <summary>pickup(8): takes what sendmail left in maildrop/, runs it through cleanup into incoming/.</summary>
/// <remarks>Security: maildrop files come from local users; cleanup treats them as untrusted input.
/// Woken by sendmail through the control socket, and polls once a second in case it was not.</remarks>
public sealed class PickupService(Func<Settings> settings, QueueDirectory queue, QueueIdGenerator ids, MailLog log,
    TimeProvider clock, Action<QueueId> queued)
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Wake() => _wake.Writer.TryWrite(true);

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            foreach (var id in queue.List(QueueName.Maildrop).ToList())
            {
                try
                {
                    if (await Posthorn.Mail.Cleanup.Pickup.ProcessAsync(queue, id, settings().Cleanup, ids, clock, log, ct) is { } newId)
                        queued(newId);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or QueueFileCorruptException)
                {
                    log.Warning("pickup", $"{id}: {e.Message}");
                }
            }
            using var tick = CancellationTokenSource.CreateLinkedTokenSource(ct);
            tick.CancelAfter(TimeSpan.FromSeconds(1));
            try { await _wake.Reader.ReadAsync(tick.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { /* timer tick */ }
            catch (OperationCanceledException) { break; }
        }
    }
}
