using Posthorn.Mail.Queue;

namespace Posthorn.Mail.Rewrite;

/// <summary>The envelope half of cleanup(8)'s rewriting: the sender, each recipient with its virtual alias
/// expansion, and the BCC recipients, with duplicates removed.</summary>
/// <remarks>Postfix cleanup_envelope.c and cleanup_out_recipient.c: a recipient is canonicalized, its
/// recipient_bcc_maps entry is added, then it is expanded with virtual_alias_maps; sender_bcc_maps (looked up with
/// the rewritten sender) and always_bcc come last. A BCC address goes through the same recipient rewriting.
/// Every resulting recipient keeps the address the client gave as its original recipient (orig_to=), unless it
/// is unchanged. Duplicate recipients (case-insensitive) are written once.</remarks>
public static class EnvelopeRewriter
{
    /// <summary>Rewrites <paramref name="sender"/> and <paramref name="recipients"/> (already qualified).</summary>
    /// <exception cref="RewriteDeferredException">A table failed or a limit was exceeded.</exception>
    public static (string Sender, List<QueueRecipient> Recipients) Rewrite(AddressRewriter rewriter, string sender,
        IEnumerable<QueueRecipient> recipients)
    {
        var s = rewriter.Settings;
        string newSender = rewriter.RewriteSender(sender, AddressClasses.EnvelopeSender);
        var output = new List<QueueRecipient>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        void Out(string address, string original)
        {
            if (!seen.Add(address))
                return;
            output.Add(new QueueRecipient(address, string.Equals(address, original, StringComparison.Ordinal) ? null : original));
        }

        void Recipient(string address, string original)
        {
            string canonical = rewriter.RewriteRecipient(address, AddressClasses.EnvelopeRecipient);
            foreach (string expanded in rewriter.ExpandVirtual(canonical))
                Out(expanded, original);
        }

        var bcc = new List<string>();
        foreach (var r in recipients)
        {
            if (r.Done)
            {
                if (seen.Add(r.Address)) output.Add(r);
                continue;
            }
            string original = r.OriginalRecipient ?? r.Address;
            string canonical = rewriter.RewriteRecipient(r.Address, AddressClasses.EnvelopeRecipient);
            // Postfix recipient_bcc_maps: looked up with the canonical recipient, before virtual aliasing.
            if (rewriter.RecipientBcc(canonical) is { } rb)
                bcc.Add(rb);
            foreach (string expanded in rewriter.ExpandVirtual(canonical))
                Out(expanded, original);
        }
        // Postfix sender_bcc_maps: looked up with the rewritten sender; the null sender has none.
        if (newSender.Length > 0 && rewriter.SenderBcc(newSender) is { } sb)
            bcc.Add(sb);
        foreach (string b in bcc)
            Recipient(b, b);
        // Postfix always_bcc: "Optional address that receives a 'blind carbon copy' of each message".
        if (s.AlwaysBcc.Length > 0)
            Recipient(Qualify(s.AlwaysBcc, s.MyOrigin), s.AlwaysBcc);
        return (newSender, output);
    }

    private static string Qualify(string address, string myorigin) =>
        address.LastIndexOf('@') < 0 ? $"{address}@{myorigin}" : address;
}
