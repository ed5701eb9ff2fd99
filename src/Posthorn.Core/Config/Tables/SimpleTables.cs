namespace Posthorn.Config.Tables;

/// <summary><c>static:value</c>: every key finds <c>value</c> (Postfix DATABASE_README); <c>static:{ text with
/// white space }</c> gives the text inside the braces (Postfix 3.0).</summary>
public sealed class StaticTable(string name, string result) : ILookupTable
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public bool TryLookup(string key, out string value)
    {
        value = result;
        return true;
    }
}

/// <summary><c>fail:name</c>: "a table that reliably fails all requests" (Postfix 3.0 DATABASE_README), and the
/// stand-in for a table that could not be opened (Postfix 3.x "surrogate" table: lookups fail temporarily).</summary>
public sealed class FailTable(string name, string reason) : ILookupTable
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    /// <exception cref="LookupTableException">Always.</exception>
    public bool TryLookup(string key, out string value) => throw new LookupTableException(Name, reason);
}

/// <summary><c>environ:table</c>: "The UNIX process environment array. The lookup key is the variable name."
/// (Postfix DATABASE_README). Variable names are case-sensitive; the table name after the colon is ignored.</summary>
public sealed class EnvironTable(string name, Func<string, string?> getEnvironment) : ILookupTable
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public bool TryLookup(string key, out string value)
    {
        string? found = getEnvironment(key);
        value = found ?? "";
        return found is not null;
    }
}

/// <summary><c>unix:passwd.byname</c> and <c>unix:group.byname</c>: the UNIX account databases, keyed by name;
/// the value is the passwd(5) or group(5) line (Postfix DATABASE_README).</summary>
/// <remarks>DEVIATION: Postfix asks getpwnam(3)/getgrnam(3) and so NSS (LDAP, sssd…); Posthorn reads the files
/// (<see cref="LookupTableOptions.PasswdFile"/>, <see cref="LookupTableOptions.GroupFile"/>) at each lookup.
/// Names are case-sensitive, as UNIX account names are.</remarks>
public sealed class UnixTable : IListableLookupTable
{
    private readonly string _file;

    private UnixTable(string name, string file)
    {
        Name = name;
        _file = file;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Opens <c>unix:passwd.byname</c> or <c>unix:group.byname</c>.</summary>
    /// <exception cref="LookupTableException">Another map name.</exception>
    public static UnixTable Open(string map, LookupTableOptions options) => map switch
    {
        "passwd.byname" => new UnixTable("unix:" + map, options.PasswdFile),
        "group.byname" => new UnixTable("unix:" + map, options.GroupFile),
        _ => throw new LookupTableException("unix:" + map, $"unknown table: unix:{map}"),
    };

    /// <inheritdoc/>
    public bool TryLookup(string key, out string value)
    {
        foreach (var (k, v) in Entries())
        {
            if (k == key)
            {
                value = v;
                return true;
            }
        }
        value = "";
        return false;
    }

    /// <inheritdoc/>
    public IEnumerable<KeyValuePair<string, string>> Entries()
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(_file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LookupTableException(Name, $"open {_file}: {LookupTables.Why(e)}");
        }
        foreach (string line in lines)
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && !line.StartsWith('#') && !line.StartsWith('+') && !line.StartsWith('-'))
                yield return new(line[..colon], line);
        }
    }
}
