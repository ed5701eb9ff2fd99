using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Outbound;

/// <summary>The recipients of one delivery: final results so far, and for the rest the latest soft failure.</summary>
internal sealed class DeliveryState(IReadOnlyList<OutboundRecipient> recipients)
{
    private readonly OutboundRecipientResult?[] _final = new OutboundRecipientResult?[recipients.Count];
    private readonly OutboundRecipientResult?[] _soft = new OutboundRecipientResult?[recipients.Count];

    public DateTimeOffset? ConnectedAt { get; set; }

    /// <summary>More deliveries to this destination are waiting: keep the session open for them.</summary>
    public bool KeepSession { get; init; }

    /// <summary>The next hop whose servers are being tried (the destination, then each fallback relay):
    /// Postfix's "nexthop" for smtp_tls_secure_cert_match and the last key of smtp_sasl_password_maps.</summary>
    public NextHop? Hop { get; set; }

    /// <summary>The TLS policy for <see cref="Hop"/>: smtp_tls_security_level, or its smtp_tls_policy_maps entry.</summary>
    public SmtpTlsPolicy Tls { get; set; } = new(SmtpTlsLevel.None);

    public int PendingCount => _final.Count(r => r is null);

    /// <summary>Indexes of recipients without a final result.</summary>
    public List<int> Pending() => Enumerable.Range(0, _final.Length).Where(i => _final[i] is null).ToList();

    public OutboundRecipient this[int i] => recipients[i];

    public void Final(int i, DeliveryOutcome outcome, EnhancedStatus dsn, string text, string relay, string? remoteMta, string? diagnostic) =>
        _final[i] = new OutboundRecipientResult(recipients[i], outcome, dsn, text, relay, remoteMta, diagnostic);

    /// <summary>A soft failure: kept as the recipient's reason unless a later server settles it.</summary>
    public void Soft(int i, EnhancedStatus dsn, string text, string relay, string? remoteMta, string? diagnostic) =>
        _soft[i] = new OutboundRecipientResult(recipients[i], DeliveryOutcome.Deferred, dsn, text, relay, remoteMta, diagnostic);

    public void SoftAll(EnhancedStatus dsn, string text, string relay, string? remoteMta, string? diagnostic)
    {
        foreach (int i in Pending()) Soft(i, dsn, text, relay, remoteMta, diagnostic);
    }

    public void FailAll(DeliveryOutcome outcome, EnhancedStatus dsn, string text, string relay, string? remoteMta, string? diagnostic)
    {
        foreach (int i in Pending()) Final(i, outcome, dsn, text, relay, remoteMta, diagnostic);
    }

    public OutboundDeliveryResult Finish(TimeSpan connection, TimeSpan transmission)
    {
        var results = new OutboundRecipientResult[_final.Length];
        for (int i = 0; i < results.Length; i++)
        {
            results[i] = _final[i] ?? _soft[i] ?? new OutboundRecipientResult(recipients[i], DeliveryOutcome.Deferred,
                new EnhancedStatus(4, 4, 1), "no mail server could be reached", "none", null, null);
        }
        return new OutboundDeliveryResult(results, connection, transmission);
    }
}
