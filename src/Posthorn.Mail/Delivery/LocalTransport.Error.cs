using System.Globalization;
using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary><c>error:</c> alias targets and forwarded addresses.</summary>
public sealed partial class LocalTransport
{
    /// <summary>An alias or .forward target <c>error:[status] text</c>: the recipient fails with text.</summary>
    /// <remarks>
    /// The Sendmail form that aliases(5) files carry over, read as Postfix's error(8) reads its
    /// next-hop ("error:5.1.1 text"): an optional RFC 3463 status (or a Sendmail-style 3-digit
    /// SMTP code, whose first digit gives the class) and the reason. A 4.x.x status defers, anything
    /// else bounces; without a status Postfix error(8)'s default 5.0.0 applies.
    /// </remarks>
    private static void ErrorTarget(Expansion x, string value, string address, Ctx ctx)
    {
        int space = value.IndexOfAny([' ', '\t']);
        string first = space < 0 ? value : value[..space];
        string rest = space < 0 ? "" : value[(space + 1)..].Trim();
        string dsn = "5.0.0";
        if (Posthorn.Core.EnhancedStatus.TryParse(first, out var status) && status.Class is 4 or 5)
        {
            dsn = status.ToString();
            value = rest;
        }
        else if (first.Length == 3 && first[0] is '4' or '5' && int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            dsn = $"{first[0]}.0.0";
            value = rest;
        }
        if (value.Length == 0) value = "unknown error";
        Add(x, address, ctx, dsn[0] == '4' ? DeliveryOutcome.Deferred : DeliveryOutcome.Bounced, dsn, value);
    }

    /// <summary>A forwarded copy, with its owner- sender and (prepend_delivered_header = forward)
    /// the Delivered-To: it must carry (Postfix local(8) forward.c).</summary>
    private LocalForward Forwarded(string target, string address, Ctx ctx) => new(target, ctx.Sender)
    {
        DeliveredTo = (_o.PrependDeliveredHeader & DeliveredHeader.Forward) != 0 ? address.ToLowerInvariant() : null,
    };
}
