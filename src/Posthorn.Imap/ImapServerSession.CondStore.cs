using System.Globalization;
using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>CONDSTORE (RFC 7162 §3.1) helpers: the modifier lists of FETCH and STORE, and the MODSEQ item
/// that untagged FETCH responses carry once CONDSTORE is enabled.</summary>
public sealed partial class ImapServerSession
{
    /// <summary>"(NAME number)" with number a mod-sequence-value (1 … 2^63-1, RFC 7162 §7); UNCHANGEDSINCE may be 0.</summary>
    private static bool TryParseModifier(ImapToken list, string name, out ulong value)
    {
        value = 0;
        return list.Kind == ImapTokenKind.List && list.Items.Count == 2 && list.Items[0].IsAtom(name)
            && ulong.TryParse(list.Items[1].Text, NumberStyles.None, CultureInfo.InvariantCulture, out value)
            && value <= long.MaxValue;
    }

    /// <summary>" MODSEQ (n)" when CONDSTORE is enabled (RFC 7162 §3.1.4.1), else empty.</summary>
    private string ModSeqItem(MessageInfo m) => _condstore ? $" MODSEQ ({m.ModSeq})" : "";
}
