namespace Posthorn.Core;

/// <summary>An RFC 3463 enhanced mail system status code, <c>class.subject.detail</c> (for example 5.1.1).</summary>
public readonly record struct EnhancedStatus(byte Class, short Subject, short Detail)
{
    public static EnhancedStatus Parse(string text) =>
        TryParse(text, out var status) ? status : throw new FormatException($"not an enhanced status code: {text}");

    /// <remarks>RFC 3463 §2: status-code = class "." subject "." detail; class = "2" / "4" / "5".</remarks>
    public static bool TryParse(ReadOnlySpan<char> text, out EnhancedStatus status)
    {
        status = default;
        int a = text.IndexOf('.');
        if (a != 1 || text[0] is not ('2' or '4' or '5')) return false;
        var rest = text[2..];
        int b = rest.IndexOf('.');
        if (b < 1 || b > 3) return false;
        if (!short.TryParse(rest[..b], out var subject) || !short.TryParse(rest[(b + 1)..], out var detail)) return false;
        if (rest.Length - b - 1 is < 1 or > 3 || detail < 0 || subject < 0) return false;
        status = new EnhancedStatus((byte)(text[0] - '0'), subject, detail);
        return true;
    }

    public override string ToString() => $"{Class}.{Subject}.{Detail}";
}
