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
        var sorted = items.ToArray();
        var keys = new Key[sorted.Length];
        for (int i = 0; i < keys.Length; i++) keys[i] = KeyOf(name(sorted[i]));
        if (!SortByTime(keys, sorted))
        {
            // Key is IComparable<Key>: the sort calls its CompareTo directly, no delegate per comparison.
            Array.Sort(keys, sorted);
        }
        for (int i = 0; i < sorted.Length; i++) items[i] = sorted[i];
    }

    /// <summary>The usual case, every name with seconds and microseconds: sorts by one number per name (seconds × 10⁶ +
    /// microseconds, the order <see cref="Compare(Key, Key)"/> gives), then equal times by name; false, nothing moved,
    /// when a name is of another shape.</summary>
    private static bool SortByTime<T>(Key[] keys, T[] items)
    {
        var times = new long[keys.Length];
        var order = new int[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            var k = keys[i];
            if (k.Parts != 2 || k.Micros >= 1_000_000 || k.Seconds >= 1_000_000_000_000) return false;
            times[i] = k.Seconds * 1_000_000 + k.Micros;
            order[i] = i;
        }
        Array.Sort(times, order);
        for (int start = 0; start < times.Length;)
        {
            int end = start + 1;
            while (end < times.Length && times[end] == times[start]) end++;
            if (end - start > 1)
                Array.Sort(order, start, end - start, Comparer<int>.Create((x, y) => string.CompareOrdinal(keys[x].Name, keys[y].Name)));
            start = end;
        }
        var moved = new T[items.Length];
        for (int i = 0; i < order.Length; i++) moved[i] = items[order[i]];
        moved.CopyTo(items, 0);
        return true;
    }

    /// <summary>A name with its leading time parsed: <see cref="Parts"/> is 0 (no leading seconds), 1 (seconds) or 2
    /// (seconds and microseconds).</summary>
    public readonly record struct Key(string Name, long Seconds, long Micros, int Parts) : IComparable<Key>
    {
        public int CompareTo(Key other) => Compare(this, other);
    }

    public static Key KeyOf(string name)
    {
        var (seconds, micros) = Time(name);
        return new Key(name, seconds ?? 0, micros ?? 0, seconds is null ? 0 : micros is null ? 1 : 2);
    }

    public static int Compare(Key a, Key b)
    {
        if (a.Parts > 0 && b.Parts > 0)
        {
            if (a.Seconds != b.Seconds) return a.Seconds.CompareTo(b.Seconds);
            if (a.Parts == 2 && b.Parts == 2 && a.Micros != b.Micros) return a.Micros.CompareTo(b.Micros);
        }
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
