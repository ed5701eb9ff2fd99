using Posthorn.Core;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Qmgr;

/// <summary>flush(8)'s two requests, for <c>postqueue -i</c> and <c>postqueue -s</c> (and <c>sendmail -qI</c>/<c>-qR</c>).</summary>
/// <remarks>Postfix flush(8): "deliver mail queued for a site" moves that site's deferred messages back to the
/// incoming queue, and "deliver one message" does so for one queue ID; the queue manager then tries them now.
/// DEVIATION: Postfix keeps per-destination logfiles for the fast_flush_domains; Posthorn reads the deferred
/// queue files instead, so every destination can be flushed, at the cost of one scan.</remarks>
public sealed partial class QmgrService
{
    /// <summary><c>postqueue -i ID</c>: a deferred message becomes eligible now. False when it is not deferred.</summary>
    public bool FlushQueueId(QueueId id)
    {
        bool moved = MoveToIncoming(id);
        Wake();
        return moved;
    }

    /// <summary><c>postqueue -s SITE</c>: every deferred message with a pending recipient in <paramref name="site"/>
    /// (a domain, or an address literal such as <c>[192.0.2.1]</c>) becomes eligible now; returns how many.</summary>
    public int FlushSite(string site)
    {
        string wanted = site.TrimEnd('.');
        int n = 0;
        foreach (var id in queue.List(QueueName.Deferred).ToList())
        {
            QueuedMessage message;
            try { message = QueueFile.Read(queue.PathOf(QueueName.Deferred, id)); }
            catch (Exception e) when (e is IOException or QueueFileCorruptException) { continue; }   // gone, or qmgr's to handle
            bool forSite = message.Envelope.Recipients.Any(r => !r.Done && DomainOf(r.Address).TrimEnd('.').Equals(wanted, StringComparison.OrdinalIgnoreCase));
            if (forSite && MoveToIncoming(id)) n++;
        }
        Wake();
        return n;
    }

    private bool MoveToIncoming(QueueId id)
    {
        try
        {
            queue.Move(id, QueueName.Deferred, QueueName.Incoming);
            return true;
        }
        catch (IOException)
        {
            return false;   // not deferred (delivered, held, or taken by a scan meanwhile)
        }
    }
}
