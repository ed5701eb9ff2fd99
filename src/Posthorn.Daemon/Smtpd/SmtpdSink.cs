using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Daemon.Policy;
using Posthorn.Daemon.Qmgr;
using Posthorn.Logging;
using Posthorn.Mail.Cleanup;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Outbound;
using Posthorn.Mail.Queue;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Smtpd;

/// <summary>smtpd's side of the daemon: relay and recipient policy, then cleanup and the queue.</summary>
/// <remarks>Security: everything it receives comes from an untrusted client, already bounded by the engine.
/// One instance per session, holding the settings snapshot the session started with.</remarks>
public sealed partial class SmtpdSink(Settings settings, QueueDirectory queue, QueueIdGenerator ids, LocalTransport local,
    MailLog log, TimeProvider clock, Action<QueueId> queued) : ISmtpTransactionSink, ISmtpSessionPolicy
{
    // Postfix reject_unauth_pipelining and smtpd_etrn_restrictions (Policy/RestrictionEvaluator.Session.cs).
    private bool _improperPipelining;
    public void ImproperPipelining(SmtpSessionInfo session, string command, string pending)
    {
        _improperPipelining = true;
        PolicyLog.ImproperPipelining(log, command, session.ClientDescription, pending);
    }
    public async ValueTask<SmtpReply?> CheckEtrnAsync(SmtpSessionInfo session, string domain, CancellationToken ct) =>
        (await Policy.CheckEtrnAsync(new PolicyRequest(session, null, null, "ETRN") { EtrnDomain = domain, ImproperPipelining = _improperPipelining }, ct)).Reply;

    private Settings Settings => settings;
    private MailLog Log => log;
    private TimeProvider Clock => clock;
    private void Queued(QueueId id) => queued(id);

    // Postfix smtpd.c mail_cmd/rcpt_cmd: the anvil rate limits come before any restriction.
    public ValueTask<SmtpReply?> CheckSenderAsync(SmtpTransaction tx, CancellationToken ct)
    {
        Activity?.Record(AnvilEvent.Message, tx.Session.ServiceName, tx.Session.Client.Address);
        return ValueTask.FromResult(Rates.CheckMessage(tx.Session));
    }

    /// <summary>The daemon-wide activity view (<c>posthorn anvil</c>): counts every MAIL FROM and RCPT TO.</summary>
    public AnvilRegistry? Activity { get; init; }

    /// <summary>The queue manager of this process, which may take a message straight into active/
    /// (<see cref="QmgrService.TryAdmit"/>); without it every message is published in incoming/.</summary>
    public QmgrService? Qmgr { get; init; }

    private RateLimits? _rates;
    private RateLimits Rates => _rates ??= new RateLimits(settings.Restrictions, settings.Restrictions.Anvil, log);

    private RestrictionEvaluator? _policy;
    /// <summary>The transaction an access table marked DISCARD (Postfix: the whole message is thrown away).</summary>
    private SmtpTransaction? _discard;
    /// <summary>access(5) PREPEND/REDIRECT/FILTER results of the current transaction, handed to cleanup.</summary>
    private (SmtpTransaction Tx, CleanupActions Actions)? _actions;

    /// <summary>The DNS resolver for reject_rbl_client; by default one for posthorn_dns_servers (or resolv.conf).</summary>
    public IDnsResolver? Dns { get; init; }

    private RestrictionEvaluator Policy => _policy ??= new RestrictionEvaluator(settings, settings.Restrictions,
        Dns ?? new LazyDnsResolver(() => new DnsClientResolver(settings.Outbound.DnsServers, TimeSpan.FromSeconds(5))),
        log, local.IsLocalRecipient)
    {
        ReverseLookup = new PtrLookup(settings.Outbound.DnsServers, TimeSpan.FromSeconds(5)).ReverseNameAsync,
    };

    public async ValueTask<SmtpReply?> CheckRecipientAsync(SmtpTransaction tx, SmtpPath recipient, CancellationToken ct)
    {
        // Postfix: after DISCARD the remaining recipients are accepted without checks.
        Activity?.Record(AnvilEvent.Recipient, tx.Session.ServiceName, tx.Session.Client.Address);
        if (ReferenceEquals(_discard, tx)) return null;
        if (Rates.CheckRecipient(tx.Session) is { } tooMany) return tooMany;
        var decision = await Policy.CheckRecipientAsync(new PolicyRequest(tx.Session, tx.Sender, recipient, "RCPT", tx.Writer?.Id)
        {
            RecipientCount = tx.Recipients.Count,
            Size = DeclaredSize(tx),
            ImproperPipelining = _improperPipelining,
        }, ct);
        if (decision.Reply is null && decision.Discard) _discard = tx;
        // Postfix access(5) HOLD: "Place the message on the hold queue, where it will sit until someone either
        // deletes it or releases it for delivery" (postsuper -H). cleanup commits into hold at end of data.
        if (decision.Reply is null && decision.Hold) PolicyActions.For(ref _actions, tx).Hold = true;
        if (decision.Reply is null) PolicyActions.Merge(ref _actions, tx, decision);
        return decision.Reply;
    }

    public async ValueTask<SmtpReply?> CheckDataAsync(SmtpTransaction tx, CancellationToken ct)
    {
        if (ReferenceEquals(_discard, tx)) return null;
        var only = tx.Recipients.Count == 1 ? tx.Recipients[0] : null;
        var decision = await Policy.CheckDataAsync(new PolicyRequest(tx.Session, tx.Sender, only, "DATA", tx.Writer?.Id)
        {
            RecipientCount = tx.Recipients.Count,
            Size = DeclaredSize(tx),
            ImproperPipelining = _improperPipelining,
        }, ct);
        if (decision.Reply is null && decision.Discard) _discard = tx;
        if (decision.Reply is null && decision.Hold) PolicyActions.For(ref _actions, tx).Hold = true;
        if (decision.Reply is null) PolicyActions.Merge(ref _actions, tx, decision);
        return decision.Reply;
    }

    /// <summary>Postfix smtpd_end_of_data_restrictions (smtpd_check_eod): the policy request carries the real size.
    /// HOLD, DISCARD, REDIRECT and FILTER still reach cleanup, which has not committed yet; a PREPEND comes too late
    /// for the header, which cleanup has already written.</summary>
    public async ValueTask<SmtpReply?> CheckEndOfDataAsync(SmtpTransaction tx, long size, CancellationToken ct)
    {
        if (ReferenceEquals(_discard, tx) || settings.Restrictions.EndOfData.Count == 0) return null;
        var only = tx.Recipients.Count == 1 ? tx.Recipients[0] : null;
        var decision = await Policy.CheckEndOfDataAsync(new PolicyRequest(tx.Session, tx.Sender, only, "END-OF-MESSAGE", tx.Writer?.Id)
        {
            RecipientCount = tx.Recipients.Count,
            Size = size,
            ImproperPipelining = _improperPipelining,
        }, ct);
        if (decision.Reply is null && decision.Discard) _discard = tx;
        if (decision.Reply is null && decision.Hold) PolicyActions.For(ref _actions, tx).Hold = true;
        if (decision.Reply is null) PolicyActions.Merge(ref _actions, tx, decision);
        return decision.Reply;
    }

    /// <summary>RFC 1870: the MAIL FROM SIZE= estimate, or 0 (SMTPD_POLICY_README size attribute).</summary>
    private static long DeclaredSize(SmtpTransaction tx) =>
        tx.MailParameters.TryGetValue("SIZE", out string? v) && long.TryParse(v, System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out long size) ? size : 0;

    public ValueTask<SmtpReply> VerifyAsync(SmtpSessionInfo session, SmtpPath address, CancellationToken ct)
    {
        // Postfix smtpd(8) VRFY: 252 for an address it would accept, the RCPT rejection otherwise.
        if (settings.IsLocalDomain(address.Domain) && settings.LocalRecipientCheck && !local.IsLocalRecipient(address.LocalPart))
            return ValueTask.FromResult(new SmtpReply(550, "5.1.1", $"<{address}>: Recipient address rejected: User unknown in local recipient table"));
        if (settings.Virtual.Check(address) is { } unknownVirtual) return ValueTask.FromResult(unknownVirtual);
        return ValueTask.FromResult(new SmtpReply(252, "2.0.0", address.ToString()));
    }

    public ValueTask<ISmtpMessageWriter> OpenMessageAsync(SmtpTransaction tx, CancellationToken ct)
    {
        var id = ids.Next();
        // The target becomes hold at commit when an access table or a content check said HOLD (CleanupActions.Hold).
        var file = QueueFileWriter.Create(queue, id, QueueName.Incoming);
        // Postfix cleanup(8): local_header_rewrite_clients = permit_inet_interfaces decides whether
        // header addresses are qualified and missing Message-Id/Date/From headers added.
        var options = settings.Cleanup with { LocalHeaderRewrite = LocalAddresses.IsOwn(tx.Session.Client.Address) };
        var cleanup = new CleanupWriter(file, id, options, clock, log)
        {
            Sender = tx.Sender,
            LogOrigin = tx.Session.ClientDescription,
            Protocol = tx.Session.Protocol,
            Helo = tx.Session.HeloName,
            EnvelopeRecipients = tx.Recipients,
            Actions = PolicyActions.For(ref _actions, tx),
        };
        log.SmtpdClient(id, tx.Session.ClientDescription, tx.Session.SaslMethod, tx.Session.SaslUsername);
        return ValueTask.FromResult<ISmtpMessageWriter>(new Writer(this, id, file, cleanup));
    }

    private sealed class Writer(SmtpdSink sink, QueueId id, QueueFileWriter file, CleanupWriter cleanup) : ISmtpMessageWriter
    {
        private bool _admitted;   // the queue manager gave this message an active slot (QmgrService.TryAdmit)

        public QueueId Id => id;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> lines, CancellationToken ct) => cleanup.WriteAsync(lines, ct);

        public async ValueTask<SmtpReply> CommitAsync(SmtpTransaction tx, CancellationToken ct)
        {
            var attributes = new Dictionary<string, string>
            {
                ["client_name"] = tx.Session.ClientName,
                ["client_address"] = tx.Session.AddressText,
                ["helo_name"] = tx.Session.HeloName ?? "",
                ["protocol"] = tx.Session.Protocol,
            };
            // Postfix's queue file keeps the SASL login (for the log and for later policy).
            if (tx.Session.SaslUsername is { } user)
            {
                attributes["sasl_method"] = tx.Session.SaslMethod ?? "";
                attributes["sasl_username"] = user;
            }
            // Postfix access(5) DISCARD: "Claim successful delivery and silently discard the message";
            // the uncommitted queue file is removed when the engine disposes this writer.
            if (ReferenceEquals(sink._discard, tx))
                return new SmtpReply(250, "2.0.0", $"Ok: queued as {id}");
            // RFC 3461: RET and ENVID go with the message, NOTIFY and ORCPT with each recipient, for bounce(8).
            if (tx.DsnEnvelopeId is { } envid) attributes[QueueEnvelope.DsnEnvelopeIdAttribute] = envid;
            if (tx.SmtpUtf8) attributes[QueueEnvelope.SmtpUtf8Attribute] = "yes";   // RFC 6531, for smtp(8)
            if (tx.DsnReturn != DsnReturn.Unspecified)
                attributes[QueueEnvelope.DsnReturnAttribute] = tx.DsnReturn == DsnReturn.Headers ? "HDRS" : "FULL";
            var envelope = new QueueEnvelope(
                tx.Sender,
                tx.Recipients.Select((r, i) => sink.QueuedRecipient(r, i < tx.RecipientDsn.Count ? tx.RecipientDsn[i] : SmtpRecipientDsn.None)).ToList(),
                sink.Clock.GetUtcNow(),
                attributes);
            // With a free slot in this process's queue manager the file is published straight into active/ (cleanup
            // still turns it to hold/ for a HOLD); DisposeAsync hands it over once the commit is over.
            if (sink.Qmgr?.TryAdmit() == true)
            {
                _admitted = true;
                file.Target = QueueName.Active;
            }
            try
            {
                await cleanup.CommitAsync(envelope, ct);
            }
            catch (CleanupRejectedException e)
            {
                return e.Reply;
            }
            catch (IOException e)
            {
                // C5: our failure is a 4xx; the client keeps the message and tries again.
                sink.Log.Warning("smtpd", $"{id}: queue file write error: {e.Message}");
                return new SmtpReply(451, "4.3.0", "Error: queue file write error");
            }
            if (!_admitted) sink.Queued(id);
            return new SmtpReply(250, "2.0.0", $"Ok: queued as {id}");
        }

        /// <summary>Closes the file (removing it when it was never published); an admitted message goes to the queue
        /// manager if its file reached active/ (also after a failed directory fsync, when the client got 451:
        /// at least once), and gives its slot back otherwise.</summary>
        public async ValueTask DisposeAsync()
        {
            await cleanup.DisposeAsync();
            if (!_admitted) return;
            _admitted = false;
            if (file.Published && file.Target == QueueName.Active) sink.Qmgr!.Admitted(id);
            else sink.Qmgr!.Declined();
        }
    }

    private RelayAddress? _relay;

    /// <summary>The queue file's recipient for an accepted RCPT TO. Postfix trivial-rewrite(8) resolves routing operators
    /// after stripping a local domain (allow_percent_hack, swap_bangpath, resolve_dequoted_address), so that
    /// <c>user%remote@local</c>, <c>remote!user@local</c> and <c>"user@remote"@local</c> go to <c>user@remote</c>.
    /// DEVIATION: Postfix keeps the address as given in the queue file and resolves it again in qmgr; Posthorn writes the
    /// resolved address (the one smtpd's relay and recipient checks decided on, RelayAddress.cs), with the given one as
    /// orig_to, so cleanup's canonical and virtual maps and the queue manager see where it really goes.</summary>
    private QueueRecipient QueuedRecipient(SmtpPath address, SmtpRecipientDsn dsn)
    {
        string given = address.ToString();
        string queued = given;
        string internalForm = RelayAddress.Internal(address);
        if (address.Domain.Length > 0 && internalForm[..internalForm.LastIndexOf('@')].AsSpan().IndexOfAny("@!%") >= 0)
        {
            try
            {
                var resolved = (_relay ??= RelayAddress.For(settings, settings.Restrictions)).Resolve(address);
                if (!resolved.SyntaxError && !resolved.Routed) queued = resolved.Recipient;
            }
            catch (Posthorn.Config.Tables.LookupTableException)
            {
                // A domain table failed: keep the address as given (the RCPT check saw the same tables answer).
            }
        }
        return new QueueRecipient(queued, queued == given ? null : given,
            Notify: (DsnNotifyFlags)(byte)dsn.Notify, DsnOriginalRecipient: dsn.OriginalRecipient);
    }
}
