namespace Posthorn.Config.Tables;

/// <summary>One Postfix lookup table, named <c>type:name</c> (Postfix DATABASE_README).</summary>
/// <remarks>A table is immutable once opened except where its type says otherwise (a <c>hash:</c> table
/// reads the compiled file at each lookup, so a new <c>postmap</c> run is seen at once).</remarks>
public interface ILookupTable
{
    /// <summary>The table's name as configured, <c>type:name</c>.</summary>
    string Name { get; }

    /// <summary>Looks up <paramref name="key"/>; true with the table's value when found.</summary>
    /// <exception cref="LookupTableException">The table cannot answer now (Postfix: a temporary lookup
    /// failure; the caller defers, as smtpd replies "451 4.3.0 Temporary lookup failure").</exception>
    bool TryLookup(string key, out string value);
}

/// <summary>A table whose entries can be listed (<c>postmap -s</c>).</summary>
public interface IListableLookupTable : ILookupTable
{
    /// <summary>Every key and value, in the table's own order.</summary>
    /// <exception cref="LookupTableException">The table cannot be read.</exception>
    IEnumerable<KeyValuePair<string, string>> Entries();
}

/// <summary>A table that cannot be opened or cannot answer a lookup (Postfix: the table is "unavailable").</summary>
/// <remarks><see cref="Exception.Message"/> reads as Postfix's detail, for example
/// <c>open database /etc/postfix/virtual.db: No such file or directory</c>.</remarks>
public sealed class LookupTableException(string table, string message) : Exception(message)
{
    /// <summary>The <c>type:name</c> of the table.</summary>
    public string Table { get; } = table;
}
