namespace Posthorn.Store.Maildir;

/// <summary>Delivery order of Maildir unique names, for giving new messages their UIDs.</summary>
/// <remarks>Names begin with the delivery time: <c>SECONDS.M&lt;usec&gt;P&lt;pid&gt;…</c> (Postfix, Posthorn and Dovecot
/// write the microseconds without leading zeros), or <c>SECONDS.P&lt;pid&gt;Q&lt;n&gt;…</c>, or older forms. Seconds and
/// microseconds are compared as numbers, so "M99999" comes before "M100000" (an ordinal comparison puts it after,
/// and two messages delivered in the same second could get their UIDs in the wrong order); ties and names of other
/// shapes fall back to an ordinal comparison, which keeps the order total and stable.</remarks>
internal static class MaildirNameOrder
{
    public static int Compare(string a, string b) => Compare(KeyOf(a), KeyOf(b));

    /// <summary>Sorts names in delivery order, each name parsed once (a first SELECT sorts 100,000 of them).</summary>
    public static void Sort<T>(List<T> items, Func<T, string> name)
    {
        var keyed = new (Key Key, T Item)[items.Count];
        for (int i = 0; i < keyed.Length; i++) keyed[i] = (KeyOf(name(items[i])), items[i]);
        Array.Sort(keyed, (x, y) => Compare(x.Key, y.Key));
        for (int i = 0; i < keyed.Length; i++) items[i] = keyed[i].Item;
    }

    /// <summary>A name with its leading time parsed.</summary>
    public readonly record struct Key(string Name, long? Seconds, long? Micros);

    public static Key KeyOf(string name)
    {
        var (seconds, micros) = Time(name);
        return new Key(name, seconds, micros);
    }

    public static int Compare(Key a, Key b)
    {
        if (a.Seconds is { } sa && b.Seconds is { } sb && sa != sb) return sa.CompareTo(sb);
        if (a.Seconds is not null && b.Seconds is not null && a.Micros is { } ua && b.Micros is { } ub && ua != ub) return ua.CompareTo(ub);
        return string.CompareOrdinal(a.Name, b.Name);
    }

    /// <summary>The leading seconds and, when the next part is M&lt;digits&gt;, the microseconds.</summary>
    private static (long? Seconds, long? Micros) Time(ReadOnlySpan<char> name)
    {
        int dot = name.IndexOf('.');
        if (dot <= 0 || !long.TryParse(name[..dot], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long seconds))
            return (null, null);
        var rest = name[(dot + 1)..];
        if (rest.Length < 2 || rest[0] != 'M') return (seconds, null);
        int end = 1;
        while (end < rest.Length && char.IsAsciiDigit(rest[end])) end++;
        return end > 1 && long.TryParse(rest[1..end], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long micros)
            ? (seconds, micros) : (seconds, null);
    }
}
