namespace Posthorn.Config.Tables;

/// <summary>Opens lookup tables by their <c>type:name</c> (Postfix DATABASE_README, postconf(5) "type:table").</summary>
/// <remarks>
/// Types: <c>hash</c> and <c>btree</c> (compiled by postmap into FILE.db, <see cref="HashTable"/>),
/// <c>texthash</c>, <c>inline:{…}</c> (<see cref="MemoryTable"/>), <c>static</c>, <c>fail</c>, <c>unix</c>, <c>environ</c>,
/// <c>cidr</c> (<see cref="CidrTable"/>), <c>regexp</c> and <c>pcre</c> (<see cref="RegexpTable"/>), and
/// <c>proxy:type:name</c>, which opens <c>type:name</c> directly (DEVIATION: there is no proxymap(8) process).
/// A name without a type has Postfix's default_database_type, hash. Tables read from a source file at open
/// (texthash, cidr, regexp, pcre) are read again when the file changes (<see cref="ReloadingTable"/>); hash and
/// btree read the compiled file at each lookup.
/// </remarks>
public static class LookupTables
{
    /// <summary>The table types <see cref="Open(string, LookupTableOptions)"/> knows.</summary>
    public static IReadOnlyList<string> Types { get; } =
        ["btree", "cidr", "environ", "fail", "hash", "inline", "pcre", "proxy", "regexp", "static", "texthash", "unix"];

    /// <summary>Opens <paramref name="spec"/>; warnings go to <paramref name="cfg"/>'s
    /// <see cref="ConfigSnapshot.Warnings"/> when given.</summary>
    /// <exception cref="LookupTableException">An unknown type, or a file that cannot be read.</exception>
    public static ILookupTable Open(string spec, ConfigSnapshot? cfg) =>
        Open(spec, new LookupTableOptions { Warn = cfg is null ? null : cfg.AddWarning });

    /// <summary>Opens <paramref name="spec"/> with explicit options.</summary>
    /// <exception cref="LookupTableException">An unknown type, or a file that cannot be read.</exception>
    public static ILookupTable Open(string spec, LookupTableOptions options)
    {
        var (type, name) = Split(spec);
        return type switch
        {
            "hash" or "btree" => HashTable.Open(type, name, options),
            "texthash" => new ReloadingTable(spec, name, () => MemoryTable.OpenText(name, options), options.Warn),
            "inline" => MemoryTable.OpenInline(name, options),
            "static" => new StaticTable(spec, Unbrace(name)),
            "environ" => new EnvironTable(spec, options.GetEnvironment),
            "fail" => new FailTable(spec, $"{spec}: table lookup problem"),
            "unix" => UnixTable.Open(name, options),
            "cidr" => new ReloadingTable(spec, name, () => CidrTable.Open(name, options), options.Warn),
            "regexp" or "pcre" => new ReloadingTable(spec, name, () => RegexpTable.Open(type, name, options), options.Warn),
            "proxy" => Open(name, options),
            _ => throw new LookupTableException(spec, $"unsupported dictionary type: {type}"),
        };
    }

    /// <summary>As <see cref="Open(string, LookupTableOptions)"/>, but a table that cannot be opened becomes a
    /// <see cref="FailTable"/> after the warning "<c>type:name is unavailable. why</c>" (Postfix 3.x surrogate
    /// table), so that a configuration still loads and lookups fail temporarily.</summary>
    public static ILookupTable OpenOrFail(string spec, LookupTableOptions options)
    {
        try
        {
            return Open(spec, options);
        }
        catch (LookupTableException e)
        {
            string why = $"{spec} is unavailable. {e.Message}";
            options.Warn?.Invoke(why);
            return new FailTable(spec, why);
        }
    }

    /// <summary>Splits <c>type:name</c>; a bare path is <c>hash:path</c>.</summary>
    public static (string Type, string Name) Split(string spec)
    {
        int colon = spec.IndexOf(':');
        return colon > 0 && !spec.StartsWith('/') ? (spec[..colon], spec[(colon + 1)..]) : ("hash", spec);
    }

    /// <summary>Whether <paramref name="item"/> of a list parameter is a <c>type:table</c> reference of a known type.</summary>
    public static bool IsTableReference(string item)
    {
        int colon = item.IndexOf(':');
        return colon > 0 && Types.Contains(item[..colon]);
    }

    /// <summary>The first table in <paramref name="tables"/> that has <paramref name="key"/> (Postfix maps(3)).</summary>
    /// <exception cref="LookupTableException">A table failed before a match was found.</exception>
    public static bool TryLookup(IEnumerable<ILookupTable> tables, string key, out string value)
    {
        foreach (var t in tables)
        {
            if (t.TryLookup(key, out value))
                return true;
        }
        value = "";
        return false;
    }

    internal static string ReadSource(string type, string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LookupTableException($"{type}:{path}", $"open {path}: {Why(e)}");
        }
    }

    /// <summary>The first white-space-separated word and the trimmed rest.</summary>
    internal static (string Word, string Tail) SplitWord(string line)
    {
        string t = line.Trim(' ', '\t');
        int ws = t.AsSpan().IndexOfAny(' ', '\t');
        return ws < 0 ? (t, "") : (t[..ws], t[ws..].Trim(' ', '\t'));
    }

    /// <summary>Removes one <c>{ }</c> pair around a value and the white space inside it.</summary>
    internal static string Unbrace(string s)
    {
        string t = s.Trim();
        return t.Length >= 2 && t[0] == '{' && t[^1] == '}' && Expander.MatchingClose(t, 0) == t.Length - 1 ? t[1..^1].Trim() : s;
    }

    /// <summary>errno-style text for a file error, as Postfix prints it.</summary>
    internal static string Why(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        _ => e.Message,
    };
}
