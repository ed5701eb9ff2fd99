namespace Posthorn.Config.Tables;

/// <summary>One <c>key value</c> entry of a table source file, with its line number.</summary>
public readonly record struct TableSourceEntry(string Key, string Value, int Line);

/// <summary>The source format of <c>hash:</c> and <c>texthash:</c> tables (Postfix postmap(1) INPUT FILE FORMAT).</summary>
/// <remarks>"The input format is key whitespace value"; empty lines and lines whose first non-white-space
/// character is '#' are ignored; a line that starts with white space continues the previous line.
/// A line without a value is skipped with Postfix's warning "expected format: key whitespace value".
/// Duplicate keys: by default the first stays and a warning names the duplicate (postmap without -r/-w).</remarks>
public static class TableSource
{
    /// <summary>Parses source text. <paramref name="fold"/> lowers keys; <paramref name="duplicates"/> is
    /// <c>warn</c> (default), <c>replace</c> (postmap -r) or <c>ignore</c> (postmap -w).</summary>
    public static List<TableSourceEntry> Parse(string text, string fileName, bool fold, Action<string>? warn,
        DuplicatePolicy duplicates = DuplicatePolicy.Warn)
    {
        var result = new List<TableSourceEntry>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var logical in LogicalLines.Split(LogicalLines.Physical(text), fileName, warn))
        {
            string line = logical.Text;
            int ws = line.AsSpan().IndexOfAny(' ', '\t');
            string value = ws < 0 ? "" : line[ws..].Trim(' ', '\t');
            if (value.Length == 0)
            {
                warn?.Invoke($"{fileName}, line {logical.Line}: expected format: key whitespace value");
                continue;
            }
            string key = fold ? line[..ws].ToLowerInvariant() : line[..ws];
            var entry = new TableSourceEntry(key, value, logical.Line);
            if (index.TryGetValue(key, out int at))
            {
                // Postfix dict_ht/dict_db update with DICT_FLAG_DUP_WARN: "duplicate entry", first one kept.
                if (duplicates == DuplicatePolicy.Replace)
                    result[at] = entry;
                else if (duplicates == DuplicatePolicy.Warn)
                    warn?.Invoke($"{fileName}, line {logical.Line}: duplicate entry: \"{key}\"");
                continue;
            }
            index[key] = result.Count;
            result.Add(entry);
        }
        return result;
    }
}

/// <summary>What a repeated key in a table source does.</summary>
public enum DuplicatePolicy
{
    /// <summary>Keep the first, warn about the later one.</summary>
    Warn,
    /// <summary>The later one replaces the first (postmap -r).</summary>
    Replace,
    /// <summary>Keep the first silently (postmap -w).</summary>
    Ignore,
}
