using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Posthorn.Config.Tables;

namespace Posthorn.Config;

/// <summary>A list of networks as <c>mynetworks</c> writes it: <c>127.0.0.0/8 [::1]/128 !192.168.1.5 /path/file</c>.</summary>
/// <remarks>Postfix postconf(5) mynetworks: entries are separated by commas and/or white space; an IPv6
/// network is written <c>[addr]/len</c>; an address without <c>/len</c> is one host; <c>!entry</c> excludes;
/// <c>/file/name</c> is replaced by the entries in that file. The first matching entry decides.
/// An IPv4-mapped IPv6 client address (<c>::ffff:10.0.0.1</c>) is matched as the IPv4 address.
/// A <c>type:table</c> entry (<c>cidr:/etc/postfix/network_table</c>) is asked for the client address as text;
/// any value found is a match, the value itself is ignored; a failing table throws
/// <see cref="LookupTableException"/> from <see cref="Contains"/>.</remarks>
public sealed class NetworkList
{
    internal readonly record struct Entry(byte[] Network, int Prefix, AddressFamily Family, bool Negated, ILookupTable? Table = null);

    private readonly Entry[] _entries;

    private NetworkList(Entry[] entries) => _entries = entries;

    /// <summary>A list that matches nothing.</summary>
    public static NetworkList Empty { get; } = new([]);

    /// <summary>Parses a mynetworks-style list; <paramref name="error"/> says what is wrong otherwise.</summary>
    public static bool TryParse(string text, out NetworkList list, out string? error) =>
        TryParse(text, ReadFile, 0, new LookupTableOptions(), out list, out error);

    /// <summary>As <see cref="TryParse(string, out NetworkList, out string?)"/>, opening tables with <paramref name="tableOptions"/>.</summary>
    public static bool TryParse(string text, LookupTableOptions tableOptions, out NetworkList list, out string? error) =>
        TryParse(text, ReadFile, 0, tableOptions, out list, out error);

    private static string? ReadFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    internal static bool TryParse(string text, Func<string, string?> readFile, int depth, out NetworkList list, out string? error) =>
        TryParse(text, readFile, depth, new LookupTableOptions(), out list, out error);

    private static bool TryParse(string text, Func<string, string?> readFile, int depth, LookupTableOptions tableOptions,
        out NetworkList list, out string? error)
    {
        var entries = new List<Entry>();
        list = Empty;
        foreach (string item in ConfigSnapshot.SplitList(text))
        {
            bool negated = item.StartsWith('!');
            string pattern = negated ? item[1..] : item;
            if (pattern.StartsWith('/'))
            {
                string? content = depth < 10 ? readFile(pattern) : null;
                if (content is null)
                {
                    error = $"open {pattern}: cannot read network list file";
                    return false;
                }
                var lines = LogicalLines.Physical(content).Where(l => !l.TrimStart().StartsWith('#'));
                if (!TryParse(string.Join(' ', lines), readFile, depth + 1, tableOptions, out var inner, out error))
                    return false;
                // "!/file" negates every entry of the file.
                entries.AddRange(negated ? inner._entries.Select(e => e with { Negated = !e.Negated }) : inner._entries);
                continue;
            }
            if (LookupTables.IsTableReference(pattern) && !IPAddress.TryParse(pattern.Trim('[', ']').Split('/')[0], out _))
            {
                entries.Add(new Entry([], 0, AddressFamily.Unspecified, negated, LookupTables.OpenOrFail(pattern, tableOptions)));
                continue;
            }
            if (!TryParseEntry(pattern, out var entry, out error))
                return false;
            entries.Add(entry with { Negated = negated });
        }
        list = new NetworkList([.. entries]);
        error = null;
        return true;
    }

    /// <summary>Parses one <c>net/len</c>, <c>[v6]/len</c> or host address (also used by cidr: tables).</summary>
    internal static bool TryParseEntry(string pattern, out Entry entry, out string? error)
    {
        entry = default;
        string addressPart = pattern, lengthPart = "";
        int slash = pattern.LastIndexOf('/');
        if (slash >= 0)
        {
            addressPart = pattern[..slash];
            lengthPart = pattern[(slash + 1)..];
        }
        bool bracketed = addressPart.StartsWith('[') && addressPart.EndsWith(']');
        if (bracketed)
            addressPart = addressPart[1..^1];
        else if (addressPart.Contains(':') && !IPAddress.TryParse(addressPart, out _))
        {
            error = $"unsupported table or bad net/mask pattern: \"{pattern}\"";
            return false;
        }
        if (!IPAddress.TryParse(addressPart, out var address) || addressPart.Contains('%')
            || (address.AddressFamily == AddressFamily.InterNetwork && addressPart.Count(c => c == '.') != 3))
        {
            error = $"bad net/mask pattern: \"{pattern}\"";
            return false;
        }
        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int prefix = max;
        if (slash >= 0 && (!int.TryParse(lengthPart, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > max))
        {
            error = $"bad net/mask pattern: \"{pattern}\"";
            return false;
        }
        byte[] bytes = address.GetAddressBytes();
        byte[] network = Mask(bytes, prefix);
        if (!network.AsSpan().SequenceEqual(bytes))
        {
            // Postfix cidr_match.c wording.
            string suggestion = Format(new Entry(network, prefix, address.AddressFamily, false), bracketed || max == 128);
            error = $"non-null host address bits in \"{pattern}\", perhaps you should use \"{suggestion}\" instead";
            return false;
        }
        entry = new Entry(network, prefix, address.AddressFamily, false);
        error = null;
        return true;
    }

    /// <summary>Builds a list from addresses and prefix lengths (the computed mynetworks); host bits are cleared.</summary>
    internal static NetworkList FromNetworks(IEnumerable<(IPAddress Address, int Prefix)> networks)
    {
        var entries = new List<Entry>();
        foreach (var (a, p) in networks)
        {
            var e = new Entry(Mask(a.GetAddressBytes(), p), p, a.AddressFamily, false);
            if (!entries.Any(x => x.Prefix == e.Prefix && x.Network.AsSpan().SequenceEqual(e.Network)))
                entries.Add(e);
        }
        return new NetworkList([.. entries]);
    }

    /// <summary>Whether <paramref name="a"/> (IPv4-mapped IPv6 already unmapped) is inside <paramref name="e"/>'s network, ignoring its negation.</summary>
    internal static bool InNetwork(in Entry e, IPAddress a) =>
        e.Family == a.AddressFamily && Mask(a.GetAddressBytes(), e.Prefix).AsSpan().SequenceEqual(e.Network);

    /// <summary>Whether <paramref name="a"/> falls in the list (first matching entry decides; "!" entries exclude).</summary>
    public bool Contains(IPAddress a)
    {
        if (a.IsIPv4MappedToIPv6)
            a = a.MapToIPv4();
        byte[] bytes = a.GetAddressBytes();
        string? text = null;
        foreach (var e in _entries)
        {
            if (e.Table is not null)
            {
                if (e.Table.TryLookup(text ??= a.ToString(), out _))
                    return !e.Negated;
            }
            else if (e.Family == a.AddressFamily && Mask(bytes, e.Prefix).AsSpan().SequenceEqual(e.Network))
                return !e.Negated;
        }
        return false;
    }

    /// <summary>The list as Postfix prints mynetworks: <c>127.0.0.0/8 [::1]/128</c>, separated by spaces.</summary>
    public override string ToString() => string.Join(' ', _entries.Select(e => (e.Negated ? "!" : "") + Format(e, true)));

    private static string Format(Entry e, bool bracketV6)
    {
        if (e.Table is not null)
            return e.Table.Name;
        string addr = new IPAddress(e.Network).ToString();
        string len = e.Prefix.ToString(CultureInfo.InvariantCulture);
        return e.Family == AddressFamily.InterNetworkV6 && bracketV6 ? $"[{addr}]/{len}" : $"{addr}/{len}";
    }

    private static byte[] Mask(byte[] bytes, int prefix)
    {
        var r = new byte[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            int bits = Math.Clamp(prefix - 8 * i, 0, 8);
            r[i] = (byte)(bytes[i] & (byte)(0xFF << (8 - bits)));
        }
        return r;
    }
}
