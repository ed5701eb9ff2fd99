using System.Globalization;
using System.Text;

namespace Posthorn.Smtp;

/// <summary>Per-command counts for the <c>disconnect from …</c> line (Postfix 3.0 and later):
/// <c>ehlo=1 mail=1 rcpt=0/1 data=1 quit=1 commands=4/5</c>.</summary>
/// <remarks>A command shows as <c>name=ok</c>, or <c>name=ok/total</c> when some failed; only
/// commands that were used appear, in Postfix's command table order with <c>unknown</c> last;
/// <c>commands=</c> always appears (<c>commands=0</c> for a client that sent nothing).</remarks>
internal sealed class SmtpCommandCounters
{
    private static readonly int Count = Enum.GetValues<SmtpVerb>().Length;
    private readonly int[] _ok = new int[Count];
    private readonly int[] _total = new int[Count];

    public void Record(SmtpVerb verb, bool ok)
    {
        _total[(int)verb]++;
        if (ok) _ok[(int)verb]++;
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        int ok = 0, total = 0;
        for (int i = 0; i < Count; i++)
        {
            if (_total[i] == 0) continue;
            Append(sb, ((SmtpVerb)i).ToString().ToLowerInvariant(), _ok[i], _total[i]);
            sb.Append(' ');
            ok += _ok[i];
            total += _total[i];
        }
        Append(sb, "commands", ok, total);
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, string name, int ok, int total)
    {
        sb.Append(name).Append('=').Append(ok.ToString(CultureInfo.InvariantCulture));
        if (ok != total) sb.Append('/').Append(total.ToString(CultureInfo.InvariantCulture));
    }
}
